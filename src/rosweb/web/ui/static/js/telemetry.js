// The robot's state as the page sees it: pose and path (odometry), laser points in the world
// frame (scan), battery, TF frames (/tf, /tf_static) and the occupancy grid (/map, only while a
// map view is on screen). The Drive and Watch views draw from one Telemetry. Each kind of data
// keeps the time it last came (`age(kind)`), so a view can grey out what went stale.

import { api, apiPath, baseType, yaw } from "./util.js";

const PATH_MAX = 4000; // points kept
const PATH_STEP = 0.02; // m between kept points
const JUMP = 0.5; // m in one message: a reset or a relocalisation, not a motion
const TF_THROTTLE_MS = 100;
const MAP_THROTTLE_MS = 5000;
export const STALE_S = 3; // data older than this is shown as stale

/** The first topic of `type`, preferring `preferred`. */
function pick(topics, type, preferred) {
  const names = topics.filter((t) => baseType(t.type) === type).map((t) => t.name);
  return names.includes(preferred) ? preferred : names[0];
}

/** 2D pose {x, y, theta} composition: a then b (b expressed in a's frame). */
export function compose(a, b) {
  const c = Math.cos(a.theta);
  const s = Math.sin(a.theta);
  return { x: a.x + c * b.x - s * b.y, y: a.y + s * b.x + c * b.y, theta: a.theta + b.theta };
}

/** The inverse of a 2D pose. */
export function invert(p) {
  const c = Math.cos(p.theta);
  const s = Math.sin(p.theta);
  return { x: -c * p.x - s * p.y, y: s * p.x - c * p.y, theta: -p.theta };
}

const strip = (frame) => (frame || "").replace(/^\/+/, "");

export class Telemetry extends EventTarget {
  constructor(ros) {
    super();
    this.ros = ros;
    this.topics = {}; // role -> topic name: odom, scan, battery, tf, tf_static, map
    this.pose = null; // {x, y, theta, v, w, frame}
    this.path = []; // [[x, y], ...], null entries break the line
    this.distance = 0;
    this.scan = null; // {points: [[x, y], ...], pose}
    this.battery = null;
    this.frames = new Map(); // child frame -> {parent, x, y, theta, static}
    this.grid = null; // {frame, width, height, resolution, origin: {x, y, theta}, data}
    this.received = {}; // kind -> performance.now() of the last message
    this._offs = [];
    this._offMap = null;
    this._mapWanted = 0;
  }

  /** Subscribe to the topics the robot has (from GET /api/topics). */
  start(topics) {
    for (const off of this._offs) off();
    this._offs = [];
    this.topics = {
      odom: pick(topics, "nav_msgs/Odometry", "/odom"),
      scan: pick(topics, "sensor_msgs/LaserScan", "/scan"),
      battery: pick(topics, "sensor_msgs/BatteryState", "/battery"),
      tf: topics.some((t) => t.name === "/tf") ? "/tf" : undefined,
      tf_static: topics.some((t) => t.name === "/tf_static") ? "/tf_static" : undefined,
      map: pick(topics, "nav_msgs/OccupancyGrid", "/map"),
    };
    const { odom, scan, battery, tf, tf_static: tfStatic } = this.topics;
    if (odom) this._follow(odom, "nav_msgs/Odometry", 50, (m) => this._onOdom(m));
    if (scan) this._follow(scan, "sensor_msgs/LaserScan", 100, (m) => this._onScan(m));
    if (battery) this._follow(battery, "sensor_msgs/BatteryState", 0, (m) => this._onBattery(m));
    const TF = "tf2_msgs/TFMessage";
    if (tf) this._follow(tf, TF, TF_THROTTLE_MS, (m) => this._onTf(m, false));
    if (tfStatic) {
      this._follow(tfStatic, TF, 0, (m) => this._onTf(m, true));
      this._latest(tfStatic, (m) => this._onTf(m, true));
    }
    if (this._mapWanted) this._subscribeMap();
  }

  /** The latest message of a latched topic (GET /api/topics/<t>): from the server's cache, or
   * once its new subscription has it (a real robot's topics are received on demand). */
  async _latest(topic, callback) {
    try {
      const { msg } = await api(apiPath("topics", topic), { query: { timeout: 2 } });
      callback(msg);
    } catch {
      /* none yet: the subscription delivers it when it comes */
    }
  }

  /** A map view came on screen (true) or went (false): the grid is received only meanwhile. */
  wantMap(on) {
    this._mapWanted = Math.max(0, this._mapWanted + (on ? 1 : -1));
    if (this._mapWanted && !this._offMap) this._subscribeMap();
    if (!this._mapWanted && this._offMap) {
      this._offMap();
      this._offMap = null;
    }
  }

  _subscribeMap() {
    this._offMap?.();
    this._offMap = null;
    const map = this.topics.map;
    if (!map) return;
    this._offMap = this.ros.subscribe(map, (m) => this._onMap(m), {
      type: "nav_msgs/OccupancyGrid",
      throttle_rate: MAP_THROTTLE_MS,
      queue_length: 1,
    });
    if (!this.grid) this._latest(map, (m) => this._onMap(m));
  }

  /** Seconds since `kind` (odom, scan, battery, tf, map) last came; Infinity if never. */
  age(kind) {
    const at = this.received[kind];
    return at === undefined ? Infinity : (performance.now() - at) / 1000;
  }

  stale(kind) {
    return !this.ros.connected || this.age(kind) > STALE_S;
  }

  clearPath() {
    this.path = this.pose ? [[this.pose.x, this.pose.y]] : [];
    this.distance = 0;
    this._emit("odom");
  }

  /** The pose of `frame` in `target` (2D), or null when TF does not link them. */
  lookup(frame, target) {
    const chain = (start) => {
      const poses = new Map([[strip(start), { x: 0, y: 0, theta: 0 }]]);
      let name = strip(start);
      let pose = { x: 0, y: 0, theta: 0 };
      for (let i = 0; i < 32; i += 1) {
        const link = this.frames.get(name);
        if (!link) break;
        pose = compose(link, pose);
        name = link.parent;
        poses.set(name, pose);
      }
      return poses;
    };
    const up = chain(frame);
    const across = chain(target);
    for (const [ancestor, pose] of up) {
      const targetPose = across.get(ancestor);
      if (targetPose) return compose(invert(targetPose), pose);
    }
    return null;
  }

  /** Every TF frame's pose in `target` (those TF links to it). */
  framesIn(target) {
    const names = new Set([...this.frames.keys(), ...[...this.frames.values()].map((f) => f.parent)]);
    const out = [];
    for (const name of names) {
      const pose = this.lookup(name, target);
      if (pose) out.push({ name, ...pose });
    }
    return out;
  }

  _follow(topic, type, throttle, callback) {
    this._offs.push(this.ros.subscribe(topic, callback, { type, throttle_rate: throttle }));
  }

  _emit(name) {
    this.received[name] = performance.now();
    this.dispatchEvent(new CustomEvent(name));
  }

  _onOdom(msg) {
    const p = msg.pose.pose;
    const pose = {
      x: p.position.x,
      y: p.position.y,
      theta: yaw(p.orientation),
      v: msg.twist.twist.linear.x,
      w: msg.twist.twist.angular.z,
      frame: strip(msg.header?.frame_id) || "odom",
    };
    const last = this.path.at(-1);
    if (!last) {
      this.path.push([pose.x, pose.y]);
    } else {
      const d = Math.hypot(pose.x - last[0], pose.y - last[1]);
      if (d > JUMP) {
        this.path.push(null, [pose.x, pose.y]);
      } else if (d >= PATH_STEP) {
        this.path.push([pose.x, pose.y]);
        this.distance += d;
      }
    }
    if (this.path.length > PATH_MAX) this.path.splice(0, this.path.length - PATH_MAX);
    this.pose = pose;
    this._emit("odom");
  }

  _onScan(msg) {
    if (!this.pose) return;
    const { x, y, theta } = this.pose;
    const points = [];
    const ranges = msg.ranges || [];
    for (let i = 0; i < ranges.length; i += 1) {
      const r = ranges[i];
      if (r === null || !(r >= msg.range_min && r <= msg.range_max)) continue;
      const a = theta + msg.angle_min + i * msg.angle_increment;
      points.push([x + r * Math.cos(a), y + r * Math.sin(a)]);
    }
    this.scan = { points, pose: this.pose };
    this._emit("scan");
  }

  _onBattery(msg) {
    this.battery = msg;
    this._emit("battery");
  }

  _onTf(msg, isStatic) {
    for (const t of msg.transforms || []) {
      const child = strip(t.child_frame_id);
      const parent = strip(t.header?.frame_id);
      if (!child || !parent || child === parent) continue;
      const { translation: tr, rotation: q } = t.transform;
      this.frames.set(child, { parent, x: tr.x, y: tr.y, theta: yaw(q), static: isStatic });
    }
    this._emit("tf");
  }

  _onMap(msg) {
    const info = msg.info;
    const o = info.origin;
    this.grid = {
      frame: strip(msg.header?.frame_id) || "map",
      width: info.width,
      height: info.height,
      resolution: info.resolution,
      origin: { x: o.position.x, y: o.position.y, theta: yaw(o.orientation) },
      data: msg.data,
      version: (this.grid?.version || 0) + 1,
    };
    this._emit("map");
  }
}
