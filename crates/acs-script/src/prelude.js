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
//      intrinsics (iterator and generator prototypes), is frozen, and the global object's
//      own properties are made read-only, so that nothing one run does can be seen by the
//      next. The global object itself stays extensible because sloppy scripts create
//      implicit globals (`x = 1` without a declaration); those are deleted after each run
//      by the `reset` function this prelude returns.
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
    random: hostRandom,
  } = natives;
  const g = globalThis;
  const {
    defineProperty,
    getOwnPropertyDescriptor,
    getPrototypeOf,
    freeze,
    isExtensible,
  } = Object;
  const { ownKeys, deleteProperty, construct, apply } = Reflect;
  const NativeDate = Date;
  const NativeString = String;
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
  SandboxDate.now = function now() {
    return hostNow();
  };
  SandboxDate.parse = NativeDate.parse;
  SandboxDate.UTC = NativeDate.UTC;
  defineProperty(NativeDate.prototype, "constructor", { value: SandboxDate });
  defineProperty(g, "Date", { value: SandboxDate });

  // Math.random: seeded per run by the caller (per device), so re-runs are identical.
  Math.random = function random() {
    return hostRandom();
  };

  // declare(): the native returns one plain object per matched instance; the result
  // carries the first instance's attributes and iterates over all of them.
  class DeclareResult {
    #instances;
    constructor(instances) {
      this.#instances = instances;
      const first = instances[0];
      if (first !== undefined) {
        this.path = first.path;
        this.value = first.value;
        this.writable = first.writable;
        this.object = first.object;
        this.notification = first.notification;
        this.accessList = first.accessList;
      } else {
        this.path = undefined;
        this.value = undefined;
        this.writable = undefined;
        this.object = undefined;
        this.notification = undefined;
        this.accessList = undefined;
      }
      this.size = instances.length;
    }
    [Symbol.iterator]() {
      return this.#instances.values();
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
  const ext = function ext(name, functionName, ...args) {
    return hostExt(name, functionName, args);
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
  ]) {
    defineProperty(g, name, { value, writable: true, enumerable: false, configurable: true });
  }
  // `args` is replaced before every run; it is the only global a run may assign.
  defineProperty(g, "args", { value: [], writable: true, enumerable: false, configurable: false });

  // Array methods whose native loops QuickJS does not interrupt: on a sparse array or an
  // array-like with a huge length (`new Array(2 ** 32 - 1).join("")`,
  // `Array.prototype.reverse.call({length: 2 ** 40})`) they would run for hours, past
  // the CPU limit. They refuse lengths no dense array could have within the memory limit
  // (the sandbox passes that bound). The length is read once here and again by the
  // native, so a getter written to answer differently gets past this: it stops
  // accidents, not a script built to hang its own session.
  const { isArray } = Array;
  const tooLong = (name, length) =>
    new RangeError(
      `${name}: ${length} elements is more than scripts may process (${maxArrayLength})`,
    );
  const lengthOf = (o) => (o === null || o === undefined ? 0 : +o.length);
  const guard = (holder, label, names, checkArguments) => {
    for (const name of names) {
      const native = holder[name];
      if (typeof native !== "function") continue;
      const guarded = {
        [name](...args) {
          const length = lengthOf(this);
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
          const length = lengthOf(items);
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

  // The global object's own properties: read-only and permanent, except `args`.
  for (const key of ownKeys(g)) {
    const d = getOwnPropertyDescriptor(g, key);
    if (key === "args") continue;
    if ("value" in d) {
      defineProperty(g, key, { writable: false, configurable: false });
    } else {
      defineProperty(g, key, { configurable: false });
    }
  }

  // Called after every run: deletes the implicit globals the run created. Every baseline
  // property is permanent, so an unchanged count means an unchanged set, the common case
  // that costs one ownKeys. Returns false when the realm cannot be restored (the script
  // made a global permanent, or the global object non-extensible): the sandbox then
  // builds a new context.
  const baseline = new Set(ownKeys(g));
  const baselineCount = baseline.size;
  return function reset() {
    if (!isExtensible(g)) return false;
    const keys = ownKeys(g);
    if (keys.length === baselineCount) return true;
    for (const key of keys) {
      if (!baseline.has(key) && !deleteProperty(g, key)) return false;
    }
    return true;
  };
});
