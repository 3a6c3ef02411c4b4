// The topic_value macro: one field of a topic's messages, live over the page's WebSocket.

import { fmt, getPath } from "../util.js";
import { ros, widgets } from "./page.js";

for (const el of widgets("value")) {
  const text = el.querySelector(".rw-value-text");
  const digits = Number(el.dataset.digits ?? 2);
  const options = { throttle_rate: Number(el.dataset.throttle || 0) };
  if (el.dataset.type) options.type = el.dataset.type;
  ros.subscribe(
    el.dataset.topic,
    (msg) => {
      const value = getPath(msg, el.dataset.field);
      el.dataset.value = JSON.stringify(value ?? null);
      text.textContent = typeof value === "number" ? fmt(value, digits) : value === undefined ? "–" : String(value);
    },
    options,
  );
}
