// The operator dashboard: member clusters, instances with their topology, placement and recent events.
// Everything live comes over ONE EventSource on GET /watch (browsers allow six connections per host over
// HTTP/1.1); what the watch does not carry (placement, the agents' reports, events) is read again when the
// instance it belongs to changes.
"use strict";

const GROUP = "/apis/middleware.fedstate.io/v1alpha1";
const WATCH = "/watch?resources=mcm,clusters";
const REFRESH_MILLIS = 500; // changes are batched as Argo CD's UI does: one read per instance per half second
const EVENT_LIMIT = 30;

// The page is authorized by a cookie: an EventSource cannot send an Authorization header, so the login form
// trades the token for an HttpOnly, SameSite=Strict cookie (POST /login) that the browser sends with every
// request of this page and that no script, this one included, can read. A 401 brings the form back.
async function api(path, { method = "GET", body, contentType } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (response.status === 401 && path !== "/login") askForToken();
  if (!response.ok) throw new Error((answer && answer.message) || `${method} ${path}: ${response.status}`);
  return answer;
}

const instancePath = (ns, name) => `${GROUP}/namespaces/${encodeURIComponent(ns)}/multicloudmongodbs/${encodeURIComponent(name)}`;

const page = {
  clusters: new Map(), // name → {view, receivedAt}
  instances: new Map(), // "ns/name" → MultiCloudMongoDB object
  details: new Map(), // "ns/name" → {placement, dataplane}
  events: [],
  cards: new Map(), // "ns/name" → its card's elements
  streamsOpened: 0,
};

// ---- small DOM helpers (no framework) ----
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}
const $ = (id) => document.getElementById(id);

function notify(message, isError = false) {
  const notice = $("notice");
  notice.textContent = message;
  notice.className = isError ? "error" : "";
}

// ---- formatting ----
const cores = (millis) => (millis / 1000).toFixed(1);
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
const seconds = (s) => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} m ${Math.round(s % 60)} s`);
const badge = (text, tone) => el("span", { class: `badge ${tone}` }, text);
const stateTone = (state) => ({ Health: "good", Ready: "good", UnHealth: "bad", Unreachable: "bad" })[state] || "warn";

// ---- member clusters ----
function heartbeatAge(entry) {
  return entry.view.heartbeatAgeSeconds + (performance.now() - entry.receivedAt) / 1000;
}

function renderClusters() {
  const rows = [...page.clusters.values()]
    .sort((a, b) => a.view.name.localeCompare(b.view.name))
    .map((entry) => {
      const c = entry.view;
      const cap = c.capacity || {};
      const cordoned = c.cordonedNodes || 0;
      return el("tr", { "data-cluster": c.name, "data-health": c.health, class: c.health === "Ready" ? "" : "unreachable" },
        el("td", {}, c.name),
        el("td", { class: "num" }, c.vip),
        el("td", { class: "health" }, badge(c.health, stateTone(c.health))),
        el("td", { class: "num heartbeat" }, seconds(heartbeatAge(entry))),
        el("td", { class: "num" }, `${c.readyNodes}/${c.nodeCount} ready`),
        el("td", { class: cordoned ? "warn" : "quiet" }, cordoned === 0 ? "no" : cordoned === c.nodeCount ? "all nodes" : `${cordoned} nodes`),
        el("td", { class: "num" }, `${cores(cap.requestedCpuMillis || 0)} / ${cores(cap.freeCpuMillis || 0)} cores`),
        el("td", { class: "num" }, `${bytes(cap.requestedMemoryBytes || 0)} / ${bytes(cap.freeMemoryBytes || 0)}`),
        el("td", { class: "quiet" }, [c.provider, c.region, c.zone].filter(Boolean).join(" · ")));
    });
  $("clusters").replaceChildren(...rows);
}

// ---- instances ----
// Seconds each member is behind the PRIMARY, from the replSetGetStatus an agent read: preferably the one the
// PRIMARY's own cluster read (a peer's view of it may be a heartbeat old), then the freshest.
function replicationLag(reports) {
  let best = null;
  for (const report of reports) {
    const own = new Set((report.members || []).map((m) => m.address));
    const seenAt = Date.parse(report.replsetSeenAt || report.observedAt || 0);
    for (const row of report.replset || []) {
      if (row.stateStr !== "PRIMARY" || !row.health) continue;
      const rank = [own.has(row.host) ? 1 : 0, seenAt];
      if (!best || rank[0] > best.rank[0] || (rank[0] === best.rank[0] && rank[1] > best.rank[1])) best = { report, primary: row, rank };
    }
  }
  const lag = new Map();
  if (!best) return lag;
  for (const row of best.report.replset) {
    if (row.stateStr === "SECONDARY" && row.health) lag.set(row.host, Math.max(0, best.primary.optimeSeconds - row.optimeSeconds));
  }
  return lag;
}

function layout(status) {
  return (status.result || []).map((r) => r.replicasetSpec).sort((a, b) => b - a).join("+");
}

function topology(obj, details) {
  const status = obj.status || {};
  const reports = ((details && details.dataplane && details.dataplane.items) || []).map((v) => v.status).filter(Boolean);
  const lag = replicationLag(reports);
  const rows = [];
  for (const result of [...(status.result || [])].sort((a, b) => a.cluster.localeCompare(b.cluster))) {
    const cluster = page.clusters.get(result.cluster);
    const health = cluster ? cluster.view.health : "unknown";
    const addresses = Object.entries(result.connectAddrWithRole || {}).sort();
    const span = Math.max(1, addresses.length);
    const head = [
      el("td", { rowSpan: span }, result.cluster, " ", badge(health, stateTone(health))),
      el("td", { rowSpan: span, class: "num" }, `${result.replicasetStatus ?? "?"}/${result.replicasetSpec}`),
      el("td", { rowSpan: span }, result.state || ""),
    ];
    const member = ([address, role]) => [
      el("td", { class: "num" }, address),
      el("td", { class: `role-${role}` }, role),
      el("td", { class: "num" }, lag.has(address) ? `${lag.get(address)} s` : "—"),
    ];
    if (addresses.length === 0) rows.push(el("tr", { "data-member-cluster": result.cluster }, head, el("td", { colSpan: 3, class: "quiet" }, "no members yet")));
    addresses.forEach((entry, i) => rows.push(el("tr", { "data-member-cluster": result.cluster, "data-role": entry[1] }, i === 0 ? head : [], member(entry))));
  }
  return el("table", { class: "topology" },
    el("thead", {}, el("tr", {}, ["cluster", "members", "state", "address", "role", "lag"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

function placementView(details) {
  const placement = details && details.placement;
  if (!placement) return el("p", { class: "quiet" }, "not placed yet");
  const verdicts = [...(placement.verdicts || [])].sort((a, b) => a.cluster.localeCompare(b.cluster));
  return el("div", { class: "placement" },
    el("p", { class: "summary" }, placement.summary || ""),
    (placement.warnings || []).map((w) => el("p", { class: "warn" }, w)),
    el("table", {}, el("tbody", {}, verdicts.map((v) => el("tr", { "data-verdict": v.cluster },
      el("td", {}, v.cluster),
      el("td", { class: v.eligible ? "good" : "bad" }, v.eligible ? `score ${v.score}` : "not eligible"),
      el("td", {}, el("ul", { class: "reasons" }, (v.reasons || []).map((r) => el("li", {}, r)))))))));
}

function primaryCluster(status) {
  const found = (status.result || []).find((r) => Object.values(r.connectAddrWithRole || {}).includes("PRIMARY"));
  return found ? found.cluster : "";
}

// A card is made once per instance and its contents redrawn in place: the member count being typed, and the
// buttons, stay the same elements while events come in.
function newCard(key) {
  const [ns, name] = key.split("/");
  const replicas = el("input", { type: "number", min: 1, class: "replicas", "aria-label": "members" });
  const current = () => page.instances.get(key).spec.replicaset;
  const card = {
    replicas,
    badge: el("span"),
    summary: el("span", { class: "quiet" }),
    address: el("p", { class: "num quiet" }),
    columns: el("div", { class: "columns" }),
  };
  card.root = el("article", { class: "instance", "data-instance": key },
    el("div", { class: "head" },
      el("h3", {}, name), el("span", { class: "quiet" }, ns), card.badge, card.summary,
      el("span", { class: "actions" },
        replicas,
        el("button", { class: "scale", onclick: () => scale(ns, name, current(), Number(replicas.value)) }, "Scale"),
        el("button", { class: "delete", onclick: () => remove(ns, name) }, "Delete"))),
    card.address, card.columns);
  return card;
}

function drawCard(card, key, obj) {
  const status = obj.status || {};
  const spec = obj.spec || {};
  const details = page.details.get(key);
  Object.assign(card.root.dataset, {
    state: status.state || "", layout: layout(status), primaryCluster: primaryCluster(status), replicas: spec.replicaset,
  });
  if (card.shownReplicas !== spec.replicaset && document.activeElement !== card.replicas) {
    card.replicas.value = spec.replicaset; // a new spec replaces the field's value, unless it is being edited
    card.shownReplicas = spec.replicaset;
  }
  card.badge.replaceChildren(badge(status.state || "Pending", stateTone(status.state)));
  card.summary.textContent = `${spec.replicaset} members · layout ${layout(status) || "—"} · generation ${obj.metadata.generation}, observed ${status.observedGeneration ?? "—"}`;
  card.address.textContent = status.externalAddr ? `externalAddr ${status.externalAddr}` : "";
  card.columns.replaceChildren(topology(obj, details), placementView(details));
}

function renderInstances() {
  const keys = [...page.instances.keys()].sort();
  for (const key of page.cards.keys()) if (!page.instances.has(key)) page.cards.delete(key);
  for (const key of keys) {
    if (!page.cards.has(key)) page.cards.set(key, newCard(key));
    drawCard(page.cards.get(key), key, page.instances.get(key));
  }
  $("no-instances").hidden = keys.length > 0;
  const roots = keys.map((key) => page.cards.get(key).root);
  const list = $("instances");
  // Moving a card would take the focus from its field: the list is only rebuilt when cards come or go.
  if (roots.length !== list.children.length || roots.some((root, i) => list.children[i] !== root)) list.replaceChildren(...roots);
}

// ---- events ----
function renderEvents() {
  const rows = [...page.events].reverse().map((e) => el("tr", { "data-reason": e.reason },
    el("td", { class: "num" }, new Date(e.time).toLocaleTimeString()),
    el("td", {}, e.instance.split("/").slice(1).join("/")),
    el("td", { class: e.type === "Warning" ? "warn" : "" }, e.type),
    el("td", {}, e.reason),
    el("td", {}, e.message)));
  $("events").replaceChildren(...rows);
}

// ---- reads the watch does not carry, batched ----
const stale = new Set();
let refreshTimer = null;

function refreshSoon(key) {
  if (key) stale.add(key);
  if (refreshTimer === null) refreshTimer = setTimeout(refresh, REFRESH_MILLIS);
}

async function refresh() {
  refreshTimer = null;
  const keys = [...stale];
  stale.clear();
  const reads = keys.map(async (key) => {
    if (!page.instances.has(key)) return page.details.delete(key);
    const path = instancePath(...key.split("/"));
    const [placement, dataplane] = await Promise.all([api(`${path}/placement`).catch(() => null), api(`${path}/dataplane`).catch(() => null)]);
    page.details.set(key, { placement, dataplane });
  });
  reads.push(api(`/events?limit=${EVENT_LIMIT}`).then((list) => { page.events = list.items; }));
  try {
    await Promise.all(reads);
  } catch (error) {
    notify(String(error.message || error), true);
  }
  renderInstances();
  renderEvents();
}

// ---- the one watch ----
function apply(event) {
  const obj = event.object;
  if (obj.kind === "MemberCluster") {
    if (event.type === "DELETED") page.clusters.delete(obj.metadata.name);
    else {
      const before = page.clusters.get(obj.metadata.name);
      page.clusters.set(obj.metadata.name, { view: obj.status, receivedAt: performance.now() });
      if (!before || before.view.health !== obj.status.health) {
        renderInstances(); // topology shows each cluster's health
        refreshSoon(null); // a cluster judged anew comes with events
      }
    }
    renderClusters();
    return;
  }
  if (obj.kind !== "MultiCloudMongoDB") return;
  const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
  if (event.type === "DELETED") page.instances.delete(key);
  else page.instances.set(key, obj);
  renderInstances();
  refreshSoon(key);
}

function follow() {
  const source = new EventSource(WATCH);
  session.source = source;
  page.streamsOpened += 1;
  document.body.dataset.streamsOpened = page.streamsOpened;
  const indicator = $("stream");
  source.onopen = () => { indicator.dataset.state = "live"; indicator.textContent = "live"; };
  // The browser reconnects by itself and resumes with Last-Event-ID.
  source.onerror = () => {
    indicator.dataset.state = "reconnecting";
    indicator.textContent = "reconnecting…";
    // An answer other than a stream (a 401 once the token is revoked) ends it for good: a read tells whether
    // the token is the reason, and if so brings the login form back.
    if (source.readyState === EventSource.CLOSED) api("/clusters").catch(() => null);
  };
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "BOOKMARK") return;
    if (event.type === "ERROR") {
      // 410 Expired: the position is gone. Start over; a watch without a position lists everything first.
      source.close();
      page.clusters.clear();
      page.instances.clear();
      setTimeout(follow, event.object.code === 410 ? 0 : 2000);
      return;
    }
    apply(event);
  };
}

// ---- scale and delete, each after a confirmation ----
function confirmed(question) {
  const dialog = $("confirm");
  $("confirm-question").textContent = question;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function scale(ns, name, from, to) {
  if (!Number.isInteger(to) || to < 1) return notify(`members must be a whole number of at least 1, not ${to}`, true);
  if (to === from) return notify(`${ns}/${name} already has ${to} members`);
  if (!(await confirmed(`Scale ${ns}/${name} from ${from} to ${to} members?`))) return;
  try {
    await api(instancePath(ns, name), { method: "PATCH", contentType: "application/merge-patch+json", body: { spec: { replicaset: to } } });
    notify(`${ns}/${name}: scaling to ${to} members`);
  } catch (error) {
    notify(`scale ${ns}/${name}: ${error.message}`, true);
  }
}

async function remove(ns, name) {
  if (!(await confirmed(`Delete ${ns}/${name}? Its members go from every member cluster (volumes follow its retentionPolicy).`))) return;
  try {
    await api(instancePath(ns, name), { method: "DELETE" });
    notify(`${ns}/${name}: deleting`);
  } catch (error) {
    notify(`delete ${ns}/${name}: ${error.message}`, true);
  }
}

// ---- logging in ----
const session = { started: false, source: null };

function askForToken() {
  if (session.source) session.source.close();
  session.source = null;
  $("logout").hidden = true;
  const dialog = $("login");
  if (!dialog.open) dialog.showModal();
}

function start() {
  $("login").close();
  $("logout").hidden = false;
  follow();
  refreshSoon(null);
  if (!session.started) setInterval(renderClusters, 1000); // heartbeat ages keep counting between events
  session.started = true;
}

$("login").addEventListener("cancel", (event) => event.preventDefault()); // no page without a token
$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const who = await api("/login", { method: "POST", body: { token: $("login-token").value.trim() } });
    $("login-token").value = "";
    $("login-error").textContent = "";
    notify(`logged in as ${who.name} (${who.role} of tenant ${who.tenant})`);
    start();
  } catch (error) {
    $("login-error").textContent = String(error.message || error);
  }
});
$("logout").addEventListener("click", async () => {
  await api("/logout", { method: "POST" }).catch(() => null);
  page.clusters.clear();
  page.instances.clear();
  renderClusters();
  renderInstances();
  askForToken();
});

// Already logged in (the cookie is kept across reloads) when a read passes; else the form.
api("/clusters").then(start, () => askForToken());
