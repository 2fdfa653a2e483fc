// Scenario (b) of bench/scenarios.sh: a session with work. Every periodic session reads
// 50 parameters of cpe-sim's built-in home gateway (one GetParameterValues) and sets 5
// (one SetParameterValues), values that change each session.
const now = Date.now();
const read = ["Device.DeviceInfo.UpTime", "Device.DeviceInfo.ProcessStatus.CPUUsage"];
for (const m of ["Total", "Free", "TotalPersistent", "FreePersistent"]) {
  read.push("Device.DeviceInfo.MemoryStatus." + m);
}
const stats = ["BytesSent", "BytesReceived", "PacketsSent", "PacketsReceived", "ErrorsSent",
  "ErrorsReceived", "DiscardPacketsSent", "DiscardPacketsReceived"];
for (let i = 1; i <= 4; i++) {
  const eth = "Device.Ethernet.Interface." + i + ".";
  for (const s of stats) read.push(eth + "Stats." + s);
  for (const p of ["Status", "LastChange", "CurrentBitRate"]) read.push(eth + p);
}
for (const p of read) declare(p, {value: now});
const stamp = String(now % 100000000);
declare("Device.DeviceInfo.HostName", null, {value: "gw-" + stamp});
declare("Device.DeviceInfo.ProvisioningCode", null, {value: "bench." + stamp});
declare("Device.Time.NTPServer1", null, {value: "ntp1-" + stamp + ".example.net"});
declare("Device.Time.NTPServer2", null, {value: "ntp2-" + stamp + ".example.net"});
declare("Device.Time.LocalTimeZone", null, {value: "UTC0-bench-" + stamp});
