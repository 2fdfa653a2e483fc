// The sandbox's prelude: evaluated once per QuickJS context, before any operator script,
// as a function expression that receives the native host functions (src/sandbox.rs)
// and the longest array the guarded array methods accept.
//
// It does three things, in this order:
//   1. removes what a provision script must not have (string compilation, clocks and
//      randomness that are not the session's, shared memory, finalizers that would run
//      one script's code during another's run);
//   2. installs the GenieACS script API (declare, clear, commit, ext, log, args) and the
//      deterministic Date and Math.random;
//   3. hardens the realm: every object reachable from the global object, and the hidden
//      intrinsics (iterator and generator prototypes), is frozen, and so is the global
//      object but for `args` (replaced before each run), so that nothing one run does can
//      be seen by the next. Scripts run in strict mode inside a function, so their `var`,
//      `let` and functions are local and they have no implicit globals; only an explicit
//      `globalThis.x = 1` is refused (a TypeError), which in GenieACS bought nothing either
//      since it clears its context's globals before each run. A frozen global costs runs
//      nothing; the alternative, deleting what a run added, cost an `ownKeys` of the
//      global object (some 80 names) after every run, a tenth of a short script's run.
//
// Freezing prototypes has one well-known cost, the "override mistake": assigning to a
// property that a frozen prototype holds as a data property fails even on an ordinary
// object (`o.toString = f`, `this.name = "MyError"` in an Error subclass). For the names
// where that happens in practice, the property is turned into an accessor whose setter
// defines an own property on the receiver, so those assignments behave as in an unfrozen
// realm (SES calls this taming).
(function (natives, maxArrayLength) {
  "use strict";
  const {
    declare: hostDeclare,
    clear: hostClear,
    commit: hostCommit,
    ext: hostExt,
    log: hostLog,
    now: hostNow,
    deviceNumber: hostDeviceNumber,
    random: hostRandom,
    reseed: hostReseed,
    sync: hostSync,
    hashCredential: hostHashCredential,
  } = natives;
  const g = globalThis;
  const {
    defineProperty,
    getOwnPropertyDescriptor,
    getPrototypeOf,
    freeze,
    preventExtensions,
  } = Object;
  const { ownKeys, deleteProperty, construct, apply } = Reflect;
  const NativeDate = Date;
  const NativeString = String;
  const { trunc } = Math;
  const stringify = JSON.stringify;

  // 1. Removed capabilities.
  //
  // `eval` at global scope, and the Function constructors, compile source text in the
  // global scope: a top-level `let` there would outlive the run (global lexical bindings
  // cannot be deleted), and the Function constructor of QuickJS builds its source by
  // concatenation, so a body can close the function early and declare globals. Scripts
  // get neither; they never needed them in GenieACS either.
  for (const name of [
    "eval",
    "SharedArrayBuffer",
    "Atomics",
    "WeakRef",
    "FinalizationRegistry",
    "performance",
  ]) {
    deleteProperty(g, name);
  }
  const refuseCompile = function Function() {
    throw new EvalError("code generation from strings is not allowed in scripts");
  };
  refuseCompile.prototype = Function.prototype;
  const functionPrototypes = [
    Function.prototype,
    getPrototypeOf(function* () {}),
    getPrototypeOf(async function () {}),
    getPrototypeOf(async function* () {}),
  ];
  for (const proto of functionPrototypes) {
    defineProperty(proto, "constructor", { value: refuseCompile });
  }
  defineProperty(g, "Function", { value: refuseCompile });

  // 2. The script API.
  //
  // Date: the session's time, not the machine's, so that a script re-run after RPCs
  // sees the same "now" and its declarations stay identical.
  const SandboxDate = function Date(...args) {
    if (new.target === undefined) {
      return new NativeDate(hostNow()).toString();
    }
    return construct(NativeDate, args.length === 0 ? [hostNow()] : args, new.target);
  };
  defineProperty(SandboxDate, "length", { value: 7 });
  SandboxDate.prototype = NativeDate.prototype;
  // Date.now(interval, variance), GenieACS's refresh helper (`Date.now(3600000)` in most
  // real scripts): the start of the current interval, shifted per device by an offset in
  // [0, variance) (variance defaults to the interval) so that a fleet does not refresh
  // all at once. The offset is the device number modulo the variance; GenieACS computes
  // the same from its MD5-based device hash, which a caller can pass as the seed.
  SandboxDate.now = function now(intervalOrCron, variance) {
    let t = hostNow();
    if (typeof intervalOrCron === "number") {
      if (variance === undefined || variance === null) variance = intervalOrCron;
      const offset = variance ? hostDeviceNumber() % variance : 0;
      t = trunc((t + offset) / intervalOrCron) * intervalOrCron - offset;
    } else if (typeof intervalOrCron === "string") {
      throw new Error("Date.now(): cron expressions are not supported; give an interval in milliseconds");
    } else if (intervalOrCron) {
      throw new Error("Invalid Date.now() argument");
    }
    return t;
  };
  SandboxDate.parse = NativeDate.parse;
  SandboxDate.UTC = NativeDate.UTC;
  defineProperty(NativeDate.prototype, "constructor", { value: SandboxDate });
  defineProperty(g, "Date", { value: SandboxDate });

  // Math.random: seeded per run by the caller (per device), so re-runs are identical;
  // `seed(value)` and `seedCombine(extra)` reseed it as GenieACS's do (from the value
  // alone, and from the device's seed and the value).
  const random = function random() {
    return hostRandom();
  };
  random.seed = function seed(value) {
    hostReseed(NativeString(value), false);
  };
  random.seedCombine = function seedCombine(extra) {
    hostReseed(NativeString(extra), true);
  };
  Math.random = random;

  // declare(): the native returns the matched instances, as the session knows them now,
  // flat: six slots per instance (path, [value, type], writable, object, notification,
  // accessList; undefined when unknown), which costs far less to build from Rust than an
  // object per instance. Reading the result commits first, as in GenieACS ("commit() is
  // called implicitly when accessing any property of the object declare() returns"), so
  // that `declare(path, {value: 1}).value[0]` waits for the value rather than reading a
  // stale one: if the session needs RPCs the run stops there and is run again. Once the
  // commit goes on, what the session knew at the declare is what the declaration asked
  // for. The result carries the first instance's attributes (for a path that matches one
  // parameter) and iterates over all of them, one object each (size 1); `size` is
  // undefined when nothing matched, as in GenieACS.
  const SLOTS = 6;
  class DeclareResult {
    #flat;
    constructor(flat) {
      this.#flat = flat;
    }
    #first(slot) {
      hostSync();
      return this.#flat[slot];
    }
    get path() {
      return this.#first(0);
    }
    get value() {
      return this.#first(1);
    }
    get writable() {
      return this.#first(2);
    }
    get object() {
      return this.#first(3);
    }
    get notification() {
      return this.#first(4);
    }
    get accessList() {
      return this.#first(5);
    }
    get size() {
      hostSync();
      const n = this.#flat.length / SLOTS;
      return n === 0 ? undefined : n;
    }
    [Symbol.iterator]() {
      hostSync();
      const f = this.#flat;
      const items = [];
      for (let i = 0; i < f.length; i += SLOTS) {
        items.push({
          path: f[i],
          value: f[i + 1],
          writable: f[i + 2],
          object: f[i + 3],
          notification: f[i + 4],
          accessList: f[i + 5],
          size: 1,
        });
      }
      return items.values();
    }
  }
  const declare = function declare(path, timestamps, values) {
    return new DeclareResult(hostDeclare(path, timestamps, values));
  };
  const clear = function clear(path, timestamp, attributes) {
    hostClear(path, timestamp, attributes);
  };
  const commit = function commit() {
    hostCommit();
  };
  // Every argument as a string, as GenieACS passes them to extensions.
  const ext = function ext(name, functionName, ...args) {
    return hostExt(NativeString(name), NativeString(functionName), args.map(NativeString));
  };
  const HASH_CREDENTIAL = function HASH_CREDENTIAL(...parts) {
    return hostHashCredential(parts.map(NativeString));
  };
  const describe = (v) => {
    if (typeof v === "string") return v;
    try {
      const s = stringify(v);
      return s === undefined ? NativeString(v) : s;
    } catch {
      return NativeString(v);
    }
  };
  const log = function log(message, ...rest) {
    let text = NativeString(message);
    for (const v of rest) text += " " + describe(v);
    hostLog(text);
  };
  for (const [name, value] of [
    ["declare", declare],
    ["clear", clear],
    ["commit", commit],
    ["ext", ext],
    ["log", log],
    ["HASH_CREDENTIAL", HASH_CREDENTIAL],
  ]) {
    defineProperty(g, name, { value, writable: true, enumerable: false, configurable: true });
  }
  // `args` is replaced before every run; it is the only global a run may assign.
  defineProperty(g, "args", { value: [], writable: true, enumerable: false, configurable: false });

  // Array methods whose native loops QuickJS does not interrupt: on a sparse array or an
  // array-like with a huge length (`new Array(2 ** 32 - 1).join("")`,
  // `Array.prototype.reverse.call({length: 2 ** 40})`) they would run for hours, past
  // the CPU limit, holding the thread. They refuse lengths no dense array could have
  // within the memory limit (the sandbox passes that bound). The native reads the length
  // again, so the length read here must be one that cannot change in between: an array's
  // own, a string's, a typed array's, or an array-like's plain number or string; an
  // array-like whose length is a getter, or a number-like object, is refused. (Proxy, the
  // other way to answer differently, is not in the sandbox.)
  const { isArray } = Array;
  const typedArrayLength = getOwnPropertyDescriptor(getPrototypeOf(Int8Array.prototype), "length").get;
  const tooLong = (name, length) =>
    new RangeError(
      `${name}: ${length} elements is more than scripts may process (${maxArrayLength})`,
    );
  const lengthOf = (name, o) => {
    if (o === null || o === undefined) return 0;
    if (isArray(o)) return o.length;
    if (typeof o !== "object" && typeof o !== "function") return +o.length;
    for (let p = o; p !== null; p = getPrototypeOf(p)) {
      const d = getOwnPropertyDescriptor(p, "length");
      if (d === undefined) continue;
      if (d.get !== undefined && d.get === typedArrayLength) return o.length;
      if (typeof d.value === "number" || typeof d.value === "string") return +d.value;
      throw new TypeError(`${name}: an array-like's length must be a plain number`);
    }
    return 0;
  };
  const guard = (holder, label, names, checkArguments) => {
    for (const name of names) {
      const native = holder[name];
      if (typeof native !== "function") continue;
      const guarded = {
        [name](...args) {
          const length = lengthOf(label + name, this);
          if (length > maxArrayLength) throw tooLong(label + name, length);
          if (checkArguments) {
            for (const a of args) {
              if (isArray(a) && a.length > maxArrayLength) throw tooLong(label + name, a.length);
            }
          }
          return apply(native, this, args);
        },
      }[name];
      defineProperty(guarded, "length", { value: native.length });
      defineProperty(holder, name, { value: guarded });
    }
  };
  guard(Array.prototype, "Array.prototype.", [
    "join", "toLocaleString", "reverse", "copyWithin", "sort", "splice", "shift", "unshift",
    "flat", "flatMap", "fill", "slice", "toSorted", "toSpliced", "toReversed", "with",
  ], false);
  guard(Array.prototype, "Array.prototype.", ["concat"], true);
  const nativeFrom = Array.from;
  defineProperty(Array, "from", {
    value: {
      from(items, ...rest) {
        if (items !== null && items !== undefined && (isArray(items) || items[Symbol.iterator] == null)) {
          const length = lengthOf("Array.from", items);
          if (length > maxArrayLength) throw tooLong("Array.from", length);
        }
        return apply(nativeFrom, this, [items, ...rest]);
      },
    }.from,
  });

  // 3. Hardening.
  //
  // Taming (see the top of this file): only names that ordinary code assigns on
  // instances, on the prototypes where they collide.
  const tame = (proto, names) => {
    for (const key of names) {
      const d = getOwnPropertyDescriptor(proto, key);
      if (d === undefined || !("value" in d)) continue;
      const value = d.value;
      defineProperty(proto, key, {
        get: function () {
          return value;
        },
        set: function (v) {
          if (this === proto) {
            throw new TypeError(
              `Cannot assign to read only property '${NativeString(key)}' of a built-in prototype`,
            );
          }
          if (Object(this) !== this) return;
          defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
        },
        enumerable: d.enumerable,
        configurable: false,
      });
    }
  };
  tame(Object.prototype, [
    "constructor",
    "toString",
    "toLocaleString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
  ]);
  tame(Function.prototype, ["toString"]);
  for (const E of [
    Error,
    EvalError,
    RangeError,
    ReferenceError,
    SyntaxError,
    TypeError,
    URIError,
    g.AggregateError,
    g.InternalError,
    g.SuppressedError,
  ]) {
    if (typeof E === "function") tame(E.prototype, ["constructor", "name", "message", "toString"]);
  }

  // QuickJS keeps Error.prepareStackTrace and Error.stackTraceLimit in the context, behind
  // accessors whose setters freezing does not stop: a hook set by one run would format
  // the errors of every later run. They become plain read-only properties.
  for (const name of ["prepareStackTrace", "stackTraceLimit"]) {
    const d = getOwnPropertyDescriptor(Error, name);
    if (d !== undefined && d.get !== undefined) {
      defineProperty(Error, name, { value: d.get.call(Error), writable: false });
    }
  }

  // Intrinsics that no global property leads to, reached through instances.
  const hiddenRoots = [
    DeclareResult,
    ...functionPrototypes,
    (function* () {})(),
    (async function* () {})(),
    [][Symbol.iterator](),
    new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](),
    ""[Symbol.iterator](),
    /x/g[Symbol.matchAll](""),
    (function () {
      return arguments;
    })(),
  ];
  if (typeof Iterator === "function") {
    hiddenRoots.push([].values().map((x) => x));
    if (typeof Iterator.from === "function") hiddenRoots.push(Iterator.from({ next() {} }));
  }

  const seen = new Set();
  const pending = [...hiddenRoots];
  for (const key of ownKeys(g)) {
    const d = getOwnPropertyDescriptor(g, key);
    pending.push(d.value, d.get, d.set);
  }
  pending.push(getPrototypeOf(g));
  while (pending.length > 0) {
    const o = pending.pop();
    if ((typeof o !== "object" && typeof o !== "function") || o === null || o === g) continue;
    if (seen.has(o)) continue;
    seen.add(o);
    pending.push(getPrototypeOf(o));
    for (const key of ownKeys(o)) {
      const d = getOwnPropertyDescriptor(o, key);
      pending.push(d.value, d.get, d.set);
    }
  }
  for (const o of seen) freeze(o);

  // The global object: its own properties read-only and permanent, except `args`, and no
  // new ones.
  for (const key of ownKeys(g)) {
    const d = getOwnPropertyDescriptor(g, key);
    if (key === "args") continue;
    if ("value" in d) {
      defineProperty(g, key, { writable: false, configurable: false });
    } else {
      defineProperty(g, key, { configurable: false });
    }
  }
  preventExtensions(g);
});
