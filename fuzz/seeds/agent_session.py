#!/usr/bin/env python3
"""Writes the seeds of the agent_session fuzz target into fuzz/seeds/agent_session/.

Each seed is a conversation of an ACS with the agent, in the target's input format (see
fuzz_targets/agent_session.rs): a configuration byte, then NUL-separated steps, each an
operation byte and its argument. The ACS's envelopes are written in the shape GenieACS
sends (../../shared/interop: soap-env/soap-enc prefixes, cwmp:ID with mustUnderstand)
and validate against the BBF schemas (check with shared/bbf/validate-envelope after
`--xml DIR`, which also writes every envelope used to DIR).

    python3 fuzz/seeds/agent_session.py [--xml DIR]
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "agent_session")

ENVELOPES = []


def env(body, ident="acs-1", ns="1-2", use=None, hold=None):
    """An ACS envelope."""
    header = f'<cwmp:ID soap-env:mustUnderstand="1">{ident}</cwmp:ID>'
    if hold is not None:
        header += (
            '<cwmp:HoldRequests soap-env:mustUnderstand="1">'
            f'{"true" if hold else "false"}</cwmp:HoldRequests>'
        )
    if use is not None:
        header += f'<cwmp:UseCWMPVersion soap-env:mustUnderstand="1">{use}</cwmp:UseCWMPVersion>'
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soap-env:Envelope xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:cwmp="urn:dslforum-org:cwmp-{ns}">'
        f"<soap-env:Header>{header}</soap-env:Header>"
        f"<soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"
    ).encode()
    if b"\x01" not in text:
        ENVELOPES.append(text)
    return text


def strings(items):
    inner = "".join(f"<string>{s}</string>" for s in items)
    return f'soap-enc:arrayType="xsd:string[{len(items)}]">{inner}'


def ir(ns="1-2", use="1.4", hold=None):
    return env("<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>",
               "cpe-1", ns, use, hold)


def grm_response(ns="1-2"):
    methods = ["Inform", "TransferComplete", "GetRPCMethods"]
    return env(f"<cwmp:GetRPCMethodsResponse><MethodList {strings(methods)}</MethodList>"
               "</cwmp:GetRPCMethodsResponse>", "cpe-2", ns)


def gpv(names, ident="gpv-1", ns="1-2", hold=None):
    return env(f"<cwmp:GetParameterValues><ParameterNames {strings(names)}</ParameterNames>"
               "</cwmp:GetParameterValues>", ident, ns, hold=hold)


def spv(params, key, ident="spv-1", ns="1-2"):
    items = "".join(
        f"<ParameterValueStruct><Name>{n}</Name><Value xsi:type=\"xsd:{t}\">{v}</Value>"
        "</ParameterValueStruct>" for n, t, v in params)
    return env("<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="
               f'"cwmp:ParameterValueStruct[{len(params)}]">{items}</ParameterList>'
               f"<ParameterKey>{key}</ParameterKey></cwmp:SetParameterValues>", ident, ns)


def download(key, file_type, url, size=0, delay=0, target="", ident="dl-1", ns="1-2"):
    return env(f"<cwmp:Download><CommandKey>{key}</CommandKey><FileType>{file_type}</FileType>"
               f"<URL>{url}</URL><Username>fw</Username><Password>secret</Password>"
               f"<FileSize>{size}</FileSize><TargetFileName>{target}</TargetFileName>"
               f"<DelaySeconds>{delay}</DelaySeconds><SuccessURL></SuccessURL>"
               "<FailureURL></FailureURL></cwmp:Download>", ident, ns)


def fault(code, text, ident="cpe-2"):
    return env("<soap-env:Fault><faultcode>Server</faultcode><faultstring>CWMP fault"
               f"</faultstring><detail><cwmp:Fault><FaultCode>{code}</FaultCode>"
               f"<FaultString>{text}</FaultString></cwmp:Fault></detail></soap-env:Fault>",
               ident)


TCR = env("<cwmp:TransferCompleteResponse></cwmp:TransferCompleteResponse>", "cpe-3")
DUSCCR = env("<cwmp:DUStateChangeCompleteResponse></cwmp:DUStateChangeCompleteResponse>",
             "cpe-3")
GPN = env("<cwmp:GetParameterNames><ParameterPath>Device.ManagementServer.</ParameterPath>"
          "<NextLevel>true</NextLevel></cwmp:GetParameterNames>", "gpn-1")
GPA = env("<cwmp:GetParameterAttributes><ParameterNames "
          f"{strings(['Device.DeviceInfo.SoftwareVersion'])}</ParameterNames>"
          "</cwmp:GetParameterAttributes>", "gpa-1")
SPA = env('<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType='
          '"cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct>'
          "<Name>Device.ManagementServer.PeriodicInformInterval</Name>"
          "<NotificationChange>true</NotificationChange><Notification>2</Notification>"
          "<AccessListChange>false</AccessListChange><AccessList "
          f"{strings([])}</AccessList></SetParameterAttributesStruct></ParameterList>"
          "</cwmp:SetParameterAttributes>", "spa-1")
ADD = env("<cwmp:AddObject><ObjectName>Device.ManagementServer.InformParameter.</ObjectName>"
          "<ParameterKey>add-1</ParameterKey></cwmp:AddObject>", "add-1")
DELETE = env("<cwmp:DeleteObject><ObjectName>Device.ManagementServer.InformParameter.1."
             "</ObjectName><ParameterKey>del-1</ParameterKey></cwmp:DeleteObject>", "del-1")
REBOOT = env("<cwmp:Reboot><CommandKey>reboot-1</CommandKey></cwmp:Reboot>", "reboot-1")
FACTORY_RESET = env("<cwmp:FactoryReset></cwmp:FactoryReset>", "fr-1")
GRM = env("<cwmp:GetRPCMethods></cwmp:GetRPCMethods>", "grm-1")
SCHEDULE_INFORM = env("<cwmp:ScheduleInform><DelaySeconds>30</DelaySeconds>"
                      "<CommandKey>si-1</CommandKey></cwmp:ScheduleInform>", "si-1")
UPLOAD = env("<cwmp:Upload><CommandKey>up-1</CommandKey><FileType>1 Vendor Configuration File"
             "</FileType><URL>http://files.example/upload/cfg</URL><Username></Username>"
             "<Password></Password><DelaySeconds>0</DelaySeconds></cwmp:Upload>", "up-1")
UPLOAD_LOG = env("<cwmp:Upload><CommandKey>up-2</CommandKey><FileType>2 Vendor Log File"
                 "</FileType><URL>http://files.example/upload/log</URL><Username></Username>"
                 "<Password></Password><DelaySeconds>5</DelaySeconds></cwmp:Upload>", "up-2")
GQT = env("<cwmp:GetQueuedTransfers></cwmp:GetQueuedTransfers>", "gqt-1")
GAQT = env("<cwmp:GetAllQueuedTransfers></cwmp:GetAllQueuedTransfers>", "gaqt-1")
SCHEDULE_DOWNLOAD = env(
    "<cwmp:ScheduleDownload><CommandKey>sd-1</CommandKey><FileType>3 Vendor Configuration File"
    "</FileType><URL>http://files.example/cfg.txt</URL><Username></Username>"
    "<Password></Password><FileSize>0</FileSize><TargetFileName></TargetFileName>"
    '<TimeWindowList soap-enc:arrayType="cwmp:TimeWindowStruct[2]"><TimeWindowStruct>'
    "<WindowStart>0</WindowStart><WindowEnd>60</WindowEnd><WindowMode>1 At Any Time"
    "</WindowMode><UserMessage></UserMessage><MaxRetries>2</MaxRetries></TimeWindowStruct>"
    "<TimeWindowStruct><WindowStart>120</WindowStart><WindowEnd>600</WindowEnd>"
    "<WindowMode>2 Immediately</WindowMode><UserMessage></UserMessage>"
    "<MaxRetries>-1</MaxRetries></TimeWindowStruct></TimeWindowList></cwmp:ScheduleDownload>",
    "sd-1")
CANCEL = env("<cwmp:CancelTransfer><CommandKey>nope</CommandKey></cwmp:CancelTransfer>", "ct-1")
CHANGE_DU = env(
    '<cwmp:ChangeDUState><Operations xsi:type="cwmp:InstallOpStruct">'
    "<URL>http://files.example/apps/hello.ipk</URL><ExecutionEnvRef></ExecutionEnvRef>"
    '</Operations><Operations xsi:type="cwmp:UninstallOpStruct">'
    "<UUID>6f1d2a4c-0b1e-4c5d-9a8b-1234567890ab</UUID></Operations>"
    "<CommandKey>du-1</CommandKey></cwmp:ChangeDUState>", "du-1")
GPV_BAD_ID = gpv(["Device.DeviceInfo.UpTime"], ident="gpv-\x01-1")

# The GenieACS captures (cwmp-1-0, ../../shared/interop), for a CPE claiming 1.0 only.
GENIE_IR = env("<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>",
               "s50lg3ms", "1-0")
GENIE_SPV = spv([("InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
                  "unsignedInt", "900")], "", "1a2006408380000", "1-0")
GENIE_REBOOT = env("<cwmp:Reboot><CommandKey></CommandKey></cwmp:Reboot>",
                   "1a200640c910000", "1-0")


# Steps.
def answer(body, status=200, pause=0):
    kind = {200: 1, 204: 2, 401: 3, 500: 4, 503: 5}[status]
    return bytes([kind | pause << 4]) + body


EMPTY = b""  # an empty step: the empty answer (200, no body)
NO_CONTENT = answer(b"", 204)


def transport_failure(retry_after=None):
    return b"\x06" + (bytes([retry_after]) if retry_after else b"")


def transfer_ok(file):
    return b"\x07" + file


def transfer_failed(code, message):
    value = 1000 + code - 9000  # the target takes the code modulo 1000, plus 9000
    raw = value.to_bytes(2, "big")
    assert b"\x00" not in raw
    return b"\x08" + raw + message


def event(what):
    return b"\x09" + what


CR = event(b"cr")
BOOTSTRAP = [answer(ir()), answer(grm_response()), NO_CONTENT]


def seed(name, steps, config=0):
    for s in steps:
        assert b"\x00" not in s, (name, s)
    data = bytes([config]) + b"\x00".join(steps)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    seed("parameter-methods", BOOTSTRAP + [
        CR, answer(ir()), answer(gpv(["Device.DeviceInfo.", "Device.ManagementServer.URL"])),
        answer(spv([("Device.ManagementServer.PeriodicInformEnable", "boolean", "true"),
                    ("Device.ManagementServer.PeriodicInformInterval", "unsignedInt", "300")],
                   "cfg-1")),
        answer(ADD), answer(GPN), answer(GPA), answer(SPA), answer(DELETE), answer(GRM),
        answer(gpv(["Device.NoSuchObject."])), NO_CONTENT,
        event(b"400"), answer(ir()), NO_CONTENT,
    ])
    seed("firmware-download-reboot", BOOTSTRAP + [
        CR, answer(ir()),
        answer(download("fw-1", "1 Firmware Upgrade Image", "http://files.example/fw-2.0.1.bin")),
        NO_CONTENT, transfer_ok(b"2.0.1"),
        answer(ir()), answer(TCR), answer(REBOOT), NO_CONTENT,
        answer(ir()), NO_CONTENT,
    ])
    config = b"Device.ManagementServer.PeriodicInformInterval\t120\n"
    seed("config-download-upload-schedule", BOOTSTRAP + [
        CR, answer(ir()),
        answer(download("cfg-1", "3 Vendor Configuration File",
                        "http://files.example/cfg.txt", size=len(config))),
        answer(UPLOAD), answer(UPLOAD_LOG), answer(SCHEDULE_INFORM), answer(GQT), answer(GAQT),
        NO_CONTENT,
        transfer_ok(config),
        transfer_ok(b""), event(b"6"), transfer_ok(b""),
        answer(ir()), answer(TCR), answer(TCR), answer(TCR), NO_CONTENT,
        event(b"30"), answer(ir()), NO_CONTENT,
    ])
    seed("failures-and-retries", [
        answer(b"", 503), answer(b"", 401), answer(b"<html>oops</html>", 500),
        answer(ir()), answer(fault(8005, "Retry request")), answer(fault(8005, "Retry request")),
        answer(fault(8005, "Retry request")), NO_CONTENT,
        CR, answer(ir()), transport_failure(120),
        answer(fault(8002, "Internal error", "cpe-1")),
        answer(b"<not-xml"), answer(ir()), answer(ir()),
        answer(ir(hold=True)), EMPTY, answer(GPN, 204),
        answer(ir()), answer(grm_response()), answer(GRM), answer(TCR),
    ])
    seed("genieacs-cwmp-1-0", [
        answer(GENIE_IR), answer(grm_response("1-0")), answer(GENIE_SPV),
        answer(GENIE_REBOOT), NO_CONTENT, answer(GENIE_IR), NO_CONTENT,
    ], config=0x20)
    seed("hold-requests-change-du-state", BOOTSTRAP + [
        CR, answer(ir()), answer(CHANGE_DU), NO_CONTENT,
        transfer_ok(b"hello 1.0 package"), event(b"5"),
        answer(ir(hold=True)), answer(gpv(["Device.SoftwareModules."], hold=True)), EMPTY,
        answer(DUSCCR), NO_CONTENT,
    ])
    seed("schedule-download-factory-reset", BOOTSTRAP + [
        CR, answer(ir()), answer(SCHEDULE_DOWNLOAD), answer(CANCEL), NO_CONTENT,
        transfer_failed(9010, b"connection refused"), event(b"10"),
        transfer_failed(9017, b"short read"), event(b"130"), transfer_ok(b"# nothing\n"),
        answer(ir()), answer(TCR),
        answer(env("<cwmp:X_ACME_Frobnicate></cwmp:X_ACME_Frobnicate>", "x-1")),
        answer(FACTORY_RESET), NO_CONTENT,
        answer(ir()), answer(grm_response()), NO_CONTENT,
    ])
    seed("empty-answers-and-restarts", [
        EMPTY, NO_CONTENT, transport_failure(), event(b"restart"), EMPTY, event(b"86400"),
        answer(ir()), EMPTY, EMPTY, NO_CONTENT, event(b"local"), event(b"restart"),
        answer(ir(), pause=3), NO_CONTENT, NO_CONTENT,
    ])
    seed("restart-with-a-transfer-due", BOOTSTRAP + [
        CR, answer(ir()),
        answer(download("cfg-2", "3 Vendor Configuration File", "http://files.example/c.txt",
                        delay=5)),
        NO_CONTENT, event(b"restart"), answer(ir()), NO_CONTENT, event(b"10"),
        transfer_ok(b"Device.ManagementServer.PeriodicInformEnable=false\n"),
        answer(ir()), answer(TCR), NO_CONTENT,
    ])
    seed("unechoable-cwmp-id", BOOTSTRAP + [
        CR, answer(ir()), answer(GPV_BAD_ID), answer(ir()), answer(GPV_BAD_ID.replace(
            b"GetParameterValues>", b"X_ACME_Frobnicate>")), NO_CONTENT,
    ])
    if len(sys.argv) == 3 and sys.argv[1] == "--xml":
        os.makedirs(sys.argv[2], exist_ok=True)
        for i, e in enumerate(dict.fromkeys(ENVELOPES)):
            with open(os.path.join(sys.argv[2], f"{i:02}.xml"), "wb") as f:
                f.write(e)


if __name__ == "__main__":
    main()
