// The robot's state as the page sees it: pose and path (odometry), laser points in the world
// frame (scan), battery. The Drive and Watch views draw from one Telemetry.

import { RateMeter, measure } from "./rates.js";
import { yaw } from "./util.js";

const PATH_MAX = 4000; // points kept
const PATH_STEP = 0.02; // m between kept points
const JUMP = 0.5; // m in one message: a reset or a relocalisation, not a motion

/** The first topic of `type`, preferring `preferred`. */
function pick(topics, type, preferred) {
  const names = topics.filter((t) => t.type === type).map((t) => t.name);
  return names.includes(preferred) ? preferred : names[0];
}

export class Telemetry extends EventTarget {
  constructor(ros) {
    super();
    this.ros = ros;
    this.topics = {}; // role -> topic name: odom, scan, battery
    this.rates = {}; // topic -> RateMeter
    this.pose = null; // {x, y, theta, v, w}
    this.path = []; // [[x, y], ...], null entries break the line
    this.distance = 0;
    this.scan = null; // {points: [[x, y], ...], pose}
    this.battery = null;
    this._offs = [];
  }

  /** Subscribe to the topics the robot has (from GET /api/topics). */
  start(topics) {
    for (const off of this._offs) off();
    this._offs = [];
    this.topics = {
      odom: pick(topics, "nav_msgs/Odometry", "/odom"),
      scan: pick(topics, "sensor_msgs/LaserScan", "/scan"),
      battery: pick(topics, "sensor_msgs/BatteryState", "/battery"),
    };
    const { odom, scan, battery } = this.topics;
    if (odom) this._follow(odom, "nav_msgs/Odometry", 50, (m) => this._onOdom(m));
    if (scan) this._follow(scan, "sensor_msgs/LaserScan", 100, (m) => this._onScan(m));
    if (battery) this._follow(battery, "sensor_msgs/BatteryState", 0, (m) => this._onBattery(m));
  }

  clearPath() {
    this.path = this.pose ? [[this.pose.x, this.pose.y]] : [];
    this.distance = 0;
    this._emit("odom");
  }

  _follow(topic, type, throttle, callback) {
    const meter = (this.rates[topic] = new RateMeter());
    this._offs.push(measure(this.ros, topic, type, meter));
    this._offs.push(this.ros.subscribe(topic, callback, { type, throttle_rate: throttle }));
  }

  _emit(name) {
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
      frame: msg.header?.frame_id,
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
}
