#!/usr/bin/env node
// roslibjs (npm `roslib` 2.x) conformance run against a rosbridge v2 WebSocket endpoint.
//
//   node conformance.mjs ws://127.0.0.1:8000/ws [--topic /odom] [--type nav_msgs/Odometry]
//                        [--service-caller self|external] [--timeout-ms 30000]
//
// Env equivalents: ROSBRIDGE_URL, EXPECT_TOPIC, EXPECT_TYPE, SERVICE_CALLER,
// CONFORMANCE_TIMEOUT_MS, STEP_TIMEOUT_MS, RESET_SERVICE.
//
// stdout: one JSON object per line: {"client":"roslibjs","check":NAME,"ok":bool,"ms":N,...}
// Exit code: 0 all checks passed; 1 a check failed (stops at the first failure);
//            2 overall timeout; 3 bad usage.
//
// roslib 2.x is ESM-only and picks its WebSocket implementation itself:
// `typeof WebSocket == "function"` ? native global : dynamic `import("ws")`.
// Node 20 has no global WebSocket (only with --experimental-websocket), so `ws`
// (a dependency of roslib itself, pinned here too) is used. Nothing to assign.
import { Ros, Topic, Service, Param } from "roslib";

// ---------- configuration ----------
function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const [k, v] = a.includes("=") ? a.slice(2).split(/=(.*)/s) : [a.slice(2), argv[++i]];
      out[k] = v;
    } else out._.push(a);
  }
  return out;
}
const args = parseArgs(process.argv.slice(2));
const URL_ = args._[0] ?? process.env.ROSBRIDGE_URL;
const EXPECT_TOPIC = args.topic ?? process.env.EXPECT_TOPIC ?? "/odom";
const EXPECT_TYPE = args.type ?? process.env.EXPECT_TYPE ?? "nav_msgs/Odometry";
const SERVICE_CALLER = args["service-caller"] ?? process.env.SERVICE_CALLER ?? "self";
const RESET_SERVICE = args["reset-service"] ?? process.env.RESET_SERVICE ?? "/reset";
const TOTAL_MS = Number(args["timeout-ms"] ?? process.env.CONFORMANCE_TIMEOUT_MS ?? 30000);
const STEP_MS = Number(args["step-timeout-ms"] ?? process.env.STEP_TIMEOUT_MS ?? 10000);
const EXTERNAL_CALL_MS = Number(process.env.EXTERNAL_CALL_TIMEOUT_MS ?? 15000);

const CLIENT = "roslibjs";
const t0 = Date.now();
let passed = 0;
let current = "startup";

function emit(obj) {
  process.stdout.write(JSON.stringify({ client: CLIENT, ...obj }) + "\n");
}
function fail(check, error, code = 1) {
  emit({ check, ok: false, ms: Date.now() - t0, error: String(error?.message ?? error),
         ...(error?.stack ? { stack: String(error.stack) } : {}) });
  emit({ check: "summary", ok: false, passed, failed: 1 });
  process.exit(code);
}
if (!URL_ || !/^wss?:\/\//.test(URL_)) {
  process.stderr.write("usage: node conformance.mjs ws://HOST:PORT/PATH [--topic T --type TYPE]\n");
  process.exit(3);
}
if (!["self", "external"].includes(SERVICE_CALLER)) fail("config", `bad service-caller ${SERVICE_CALLER}`, 3);

const overall = setTimeout(() => fail(current, `overall timeout ${TOTAL_MS} ms exceeded`, 2), TOTAL_MS);
process.on("unhandledRejection", (e) => fail(current, e));
process.on("uncaughtException", (e) => fail(current, e));

// Run one check: fn gets (resolve, reject) semantics via returned promise; step timeout applied.
async function check(name, fn, ms = STEP_MS) {
  current = name;
  const start = Date.now();
  let timer;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`step timeout ${ms} ms`)), ms); }),
    ]);
    clearTimeout(timer);
    passed++;
    emit({ check: name, ok: true, ms: Date.now() - start, ...(detail && typeof detail === "object" ? { detail } : {}) });
    return detail;
  } catch (e) {
    clearTimeout(timer);
    fail(name, e);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// "nav_msgs/msg/Odometry" (ROS 2 style) and "nav_msgs/Odometry" (ROS 1 style) compare equal.
const normType = (t) => String(t).replace("/msg/", "/").replace("/srv/", "/");
const normName = (n) => (String(n).startsWith("/") ? String(n) : "/" + n);

// Promise wrapper around roslib's callback style. callService's failedCallback receives
// `values ?? ""` of a result:false service_response (a string error message by protocol).
function callService(ros, name, serviceType, request) {
  return new Promise((resolve, reject) => {
    new Service({ ros, name, serviceType }).callService(
      request,
      (values) => resolve(values),
      (err) => reject(Object.assign(new Error(`service ${name} failed: ${JSON.stringify(err)}`), { rosError: err })),
    );
  });
}
function connect(url) {
  const ros = new Ros(); // no url in ctor: ctor would call connect() and only console.error failures
  return new Promise((resolve, reject) => {
    ros.once("connection", () => resolve(ros));
    ros.once("error", (e) => reject(new Error(`websocket error: ${e?.message ?? e?.error?.message ?? e}`)));
    ros.once("close", (e) => reject(new Error(`closed before open: code ${e?.code}`)));
    // connect() resolves once the transport object exists, NOT when the socket is open.
    ros.connect(url).catch(reject);
  });
}

// ---------- sequence ----------
const token = `roslibjs-${process.pid}-${Date.now()}`;
emit({ check: "config", ok: true, url: URL_, expect_topic: EXPECT_TOPIC, expect_type: EXPECT_TYPE,
       service_caller: SERVICE_CALLER, roslib_transport: typeof WebSocket === "function" ? "native" : "ws" });

let ros;
await check("connect", async () => {
  ros = await connect(URL_);
  return { isConnected: ros.isConnected };
});

await check("get_topics", async () => {
  // Ros.getTopics(cb, failedCb) calls service "rosapi/topics" (NO leading slash), args {},
  // and hands the whole values object {topics: [...], types: [...]} to cb.
  const res = await new Promise((resolve, reject) => ros.getTopics(resolve, (e) => reject(new Error(String(e)))));
  if (!Array.isArray(res?.topics) || !Array.isArray(res?.types)) throw new Error(`bad reply ${JSON.stringify(res)}`);
  const i = res.topics.indexOf(EXPECT_TOPIC);
  if (i < 0) throw new Error(`${EXPECT_TOPIC} not in topics ${JSON.stringify(res.topics)}`);
  if (normType(res.types[i]) !== normType(EXPECT_TYPE))
    throw new Error(`${EXPECT_TOPIC} has type ${res.types[i]}, expected ${EXPECT_TYPE}`);
  return { topics: res.topics.length, type: res.types[i] };
});

// Subscribe to the expected topic and get 3 messages. Keep the subscription until the
// "unsubscribe" check, which then verifies the server stops sending.
const odom = new Topic({ ros, name: EXPECT_TOPIC, messageType: EXPECT_TYPE });
const odomSeen = [];
const onOdom = (m) => odomSeen.push(m);
await check("subscribe_receive_3", async () => {
  await new Promise((resolve) => {
    odom.subscribe((m) => { onOdom(m); if (odomSeen.length >= 3) resolve(); });
  });
  const m = odomSeen[0];
  if (typeof m !== "object" || m === null) throw new Error(`message is not an object: ${JSON.stringify(m)}`);
  if (normType(EXPECT_TYPE) === "nav_msgs/Odometry" && !m.pose) throw new Error(`Odometry without pose: ${JSON.stringify(m)}`);
  return { received: odomSeen.length, keys: Object.keys(m) };
});

// advertise + publish std_msgs/String, receive it back on our own subscription.
const chatter = new Topic({ ros, name: "/roslibjs_chatter", messageType: "std_msgs/String" });
await check("publish_loopback", async () => {
  const want = `hello from ${token}`;
  let timer;
  const got = await new Promise((resolve) => {
    chatter.subscribe((m) => { if (m?.data === want) resolve(m); });
    chatter.advertise();
    // Re-publish until echoed: a real bridge may need a moment to wire publisher<->subscriber.
    const pub = () => chatter.publish({ data: want });
    pub();
    timer = setInterval(pub, 250);
  }).finally(() => clearInterval(timer));
  return { data: got.data };
});

await check("call_service_trigger", async () => {
  const v = await callService(ros, RESET_SERVICE, "std_srvs/Trigger", {});
  if (v?.success !== true) throw new Error(`${RESET_SERVICE} returned ${JSON.stringify(v)}`);
  return v;
});

await check("call_service_failure", async () => {
  // A result:false service_response must reach failedCallback (with values = error string).
  try {
    await callService(ros, "/roslibjs/does_not_exist", "std_srvs/Trigger", {});
  } catch (e) {
    return { failed_with: e.rosError };
  }
  throw new Error("call to a nonexistent service succeeded");
});

await check("param_set_get", async () => {
  const p = new Param({ ros, name: "/roslibjs/answer" });
  // set -> rosapi/set_param {name, value: JSON.stringify(42) === "42"}
  await new Promise((resolve, reject) => p.set(42, resolve, (e) => reject(new Error(`set failed: ${e}`))));
  // get -> rosapi/get_param {name}; roslib JSON.parse()s values.value; fails if values.successful === false
  const v = await new Promise((resolve, reject) => p.get(resolve, (e) => reject(new Error(`get failed: ${e}`))));
  if (v !== 42) throw new Error(`got ${JSON.stringify(v)} expected 42`);
  return { value: v };
});

// Client-side service server. "self": a second roslibjs connection calls it through the
// bridge; "external": print a ready line and wait for someone else (the test) to call it.
const echoName = "/roslibjs/echo";
const echo = new Service({ ros, name: echoName, serviceType: "std_srvs/SetBool" });
const echoCalls = [];
let echoCalled;
const echoCalledP = new Promise((r) => (echoCalled = r));
await check("advertise_service", async () => {
  // advertise(cb): cb(request, response) must fill `response` and return true; returning
  // false/throwing sends {op:service_response, result:false} WITHOUT values.
  await echo.advertise((req, resp) => {
    echoCalls.push(req);
    resp.success = Boolean(req.data);
    resp.message = `echo:${req.data}`;
    echoCalled(req);
    return true;
  });
  await sleep(200); // advertise_service has no ack in the protocol
  return { service: echoName, type: "std_srvs/SetBool", caller: SERVICE_CALLER };
});

if (SERVICE_CALLER === "self") {
  await check("advertised_service_roundtrip", async () => {
    const ros2 = await connect(URL_);
    try {
      const v = await callService(ros2, echoName, "std_srvs/SetBool", { data: true });
      if (v?.success !== true || v?.message !== "echo:true") throw new Error(`bad reply ${JSON.stringify(v)}`);
      if (echoCalls.length !== 1) throw new Error(`handler called ${echoCalls.length} times`);
      return v;
    } finally {
      ros2.close();
    }
  });
} else {
  emit({ check: "advertised_service_ready", ok: true, signal: true, service: echoName, type: "std_srvs/SetBool" });
  await check("advertised_service_called", async () => {
    const req = await echoCalledP;
    await sleep(200); // let the service_response frame go out
    return { request: req };
  }, EXTERNAL_CALL_MS);
}

await check("unsubscribe", async () => {
  // Raw listener on the Ros emitter sees every publish frame for the topic, even after
  // Topic.unsubscribe() removed its own handler -> proves the server stopped sending.
  let after = 0;
  const raw = () => after++;
  odom.unsubscribe(); // sends {op:unsubscribe, id:<subscribe id>, topic}
  await sleep(500); // grace for frames already in flight
  ros.on(EXPECT_TOPIC, raw);
  await sleep(1000);
  ros.off(EXPECT_TOPIC, raw);
  if (after > 0) throw new Error(`${after} messages after unsubscribe`);
  chatter.unsubscribe();
  chatter.unadvertise();
  await echo.unadvertise();
  return { messages_after: after };
});

await check("close", async () => {
  await new Promise((resolve) => {
    ros.once("close", resolve);
    ros.close();
  });
  return { isConnected: ros.isConnected };
});

clearTimeout(overall);
emit({ check: "summary", ok: true, passed, failed: 0, total_ms: Date.now() - t0 });
process.exit(0);
