// A 20-line provision for the sessions benchmark: reads what the Inform carried, decides,
// and declares tags; nothing needs an RPC once a device has its tags.
const sw = declare("Device.DeviceInfo.SoftwareVersion", {value: 1});
const hw = declare("Device.DeviceInfo.HardwareVersion", {value: 1});
const ip = declare("Device.IP.Interface.1.IPv4Address.1.IPAddress", {value: 1});
const serial = declare("DeviceID.SerialNumber", {value: 1}).value[0];
let tier = "basic";
if (String(sw.value[0]).startsWith("4.")) tier = "current";
if (String(hw.value[0]).indexOf("rev A") >= 0) tier += "-a";
const subnet = String(ip.value[0]).split(".").slice(0, 3).join(".");
const bucket = serial.charCodeAt(serial.length - 1) % 4;
const tags = ["tier-" + tier, "bucket-" + bucket];
for (const t of tags) {
  declare("Tags." + t, null, {value: true});
}
const uptime = declare("Device.DeviceInfo.UpTime", {value: 1});
if (uptime.size && uptime.value[0] < 0) {
  log("clock went back on " + serial + " in " + subnet);
}
declare("Tags.legacy", null, {value: tier === "basic"});
