// The service_button macro: call a service with a fixed request over the page's WebSocket and show
// the response (or the server's reason for a failure).

import { atLeast } from "../util.js";
import { ros, status, widgets } from "./page.js";

for (const el of widgets("service")) {
  const button = el.querySelector(".rw-service-button");
  const result = el.querySelector(".rw-service-result");
  const request = JSON.parse(el.dataset.request || "{}");
  if (!atLeast("operator")) {
    button.disabled = true;
    button.title = "calling services needs role operator";
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    status(result, "calling…");
    try {
      const response = await ros.callService(el.dataset.service, request);
      el.dataset.state = "ok";
      status(result, JSON.stringify(response), "success");
    } catch (err) {
      el.dataset.state = "failed";
      status(result, err.message, "danger");
    } finally {
      button.disabled = false;
    }
  });
}
