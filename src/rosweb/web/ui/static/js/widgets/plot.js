// The plot macro: numeric fields of a topic over the last seconds (uPlot, vendored), live over the
// page's WebSocket.

import { TopicPlot } from "./topicplot.js";
import { ros, widgets } from "./page.js";

for (const el of widgets("plot")) {
  const plot = new TopicPlot(el);
  for (const field of el.dataset.fields.split(",").map((f) => f.trim()).filter(Boolean)) plot.add(field);
  const options = { throttle_rate: Number(el.dataset.throttle || 0) };
  if (el.dataset.type) options.type = el.dataset.type;
  ros.subscribe(el.dataset.topic, (msg) => plot.push(msg), options);
}
