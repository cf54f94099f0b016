// Data Plane Nodes: the nodes that connected (refreshing on their own), and New Data
// Plane Node: Platform, Generate certificate, the docker run command to copy.

import { api } from "./api.js";
import { cpShell, onLeave } from "./app.js";
import { announce, fill, h, table, when } from "./dom.js";

const REFRESH_MS = 3000;

function compatibility(node) {
  const status = node.compatibility_status || {};
  const issues = status.config_sync_issues || [];
  const state = String(status.state || "").replace("COMPATIBILITY_STATE_", "").toLowerCase().replaceAll("_", " ");
  if (!issues.length) return state || "unknown";
  return h("div", {}, state, h("ul.issues", {}, issues.map((i) => h("li", {}, i.description || i.code || JSON.stringify(i)))));
}

export async function nodesPage(cp) {
  const base = `/v2/control-planes/${encodeURIComponent(cp)}`;
  const body = h("div#node-table");
  const updated = h("p.help#nodes-updated");
  const refresh = async () => {
    try {
      const [nodes, expected] = await Promise.all([
        api("GET", `${base}/nodes`),
        api("GET", `${base}/expected-config-hash`),
      ]);
      fill(body, table("Data plane nodes", [
        ["Hostname", (n) => n.hostname],
        ["Version", (n) => n.version],
        ["Last Ping", (n) => when(n.last_ping)],
        ["Config Hash", (n) => h("code.hash", {}, n.config_hash)],
        ["Sync Status", (n) => (n.config_hash === expected.expected_hash
          ? h("span.badge.ok", {}, "In sync")
          : h("span.badge.warn", {}, "Out of sync"))],
        ["Compatibility", compatibility],
      ], nodes.items, "No data plane node has connected yet: click New Data Plane Node."));
      updated.textContent = `Expected config hash ${expected.expected_hash}. Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
    } catch (e) {
      updated.textContent = e.message;
    }
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  onLeave(() => clearInterval(timer));
  return cpShell(cp, "/nodes",
    h("div.heading", {}, h("h1", {}, "Data Plane Nodes"), h("a.button.primary#new-node", { href: `#/cp/${cp}/nodes/new` }, "New Data Plane Node")),
    updated, body);
}

export async function newNodePage(cp) {
  const platform = h("select#platform", {}, h("option", { value: "docker" }, "Linux (Docker)"));
  const result = h("section#generated", { "aria-live": "polite" });
  const generate = h("button.primary#generate", { type: "button" }, "Generate certificate");
  generate.addEventListener("click", async () => {
    generate.disabled = true;
    try {
      const made = await api("POST", `/v2/control-planes/${encodeURIComponent(cp)}/dp-client-certificates/generate`);
      const command = h("pre.code#docker-run", { tabindex: "0" }, made.docker_run);
      const copy = h("button.secondary", { type: "button" }, "Copy");
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(made.docker_run);
          announce("Copied.");
        } catch {
          const range = document.createRange();
          range.selectNodeContents(command);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          announce("Selected: press Ctrl+C to copy.");
        }
      });
      fill(result,
        h("h2", {}, "Run the data plane"),
        h("p", {}, "Copy the generated docker run command. For the ping-auth plugin, it mounts the plugin's files (the -v line: put your own source path) and loads it with KONG_PLUGINS and KONG_LUA_PACKAGE_PATH."),
        command, copy,
        h("details", {}, h("summary", {}, "Certificate"), h("pre.code#dp-cert", {}, made.item.cert)),
        h("details", {}, h("summary", {}, "Private key"), h("pre.code#dp-key", {}, made.key)),
        h("details", {}, h("summary", {}, "CA certificate"), h("pre.code#dp-ca", {}, made.ca_cert)),
        h("p", {}, h("a", { href: `#/cp/${cp}/nodes` }, "Back to Data Plane Nodes")));
      announce("Certificate generated.");
      command.focus();
    } catch (e) {
      fill(result, h("p.error", { role: "alert" }, e.message));
    } finally {
      generate.disabled = false;
    }
  });
  return cpShell(cp, "/nodes",
    h("h1", {}, "New Data Plane Node"),
    h("div.card", {},
      h("div.field", {}, h("label", { for: "platform" }, "Platform"), platform),
      h("p.help", {}, "konnektd makes a key and a certificate pinned to this control plane; the private key is shown only here, once."),
      generate),
    result);
}
