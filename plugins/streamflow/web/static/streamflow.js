/* Streamflow pages: the little JavaScript they need (no build step, no framework).
 *
 * - links into Airflow's own UI (a.af-link) open in the Airflow window, not inside our iframe;
 * - the station picker of the configuration form;
 * - after a save, ask Airflow to re-parse the DAG file and say when the DAG shows;
 * - the hydrograph (uPlot, vendored under static/vendor/uplot);
 * - the forecast skill chart: RMSE by lead time, from the JSON the detail page embeds.
 * Every fetch() is same-origin with the Airflow session cookie; writes send X-CSRF-Token.
 */
"use strict";
(function () {
  const body = document.body;
  const BASE = body.dataset.base || "/streamflow";
  const AIRFLOW = body.dataset.airflow || "";
  const CSRF = body.dataset.csrf || "";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));  // text: never HTML
    }
    return node;
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }

  /* ------------------------------------------------------------ links into Airflow's UI */
  // Airflow shows plugin pages in an iframe (sandbox: scripts, same-origin, forms; no top
  // navigation). A plain link would open Airflow inside our frame; with same-origin access we
  // ask Airflow's router to navigate instead (history.pushState + popstate).
  function airflowLinks() {
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a.af-link");
      if (!link || window.top === window.self || event.ctrlKey || event.metaKey) return;
      try {
        const top = window.top;
        const url = new URL(link.href, window.location.href);
        top.history.pushState({}, "", url.pathname + url.search + url.hash);
        top.dispatchEvent(new top.PopStateEvent("popstate", { state: {} }));
        event.preventDefault();
      } catch (e) { /* not same-origin: let the link open in the frame */ }
    });
  }

  /* ------------------------------------------------------------ station picker */
  function stationPicker() {
    const dataNode = document.getElementById("picker-data");
    if (!dataNode) return;
    const opts = JSON.parse(dataNode.textContent);
    const form = document.getElementById("config-form");
    const textarea = document.getElementById("stations-text");
    const dataType = document.getElementById("data_type");
    const selectedBody = document.querySelector("#selected-stations tbody");
    const resultsTable = document.getElementById("search-results");
    const resultsBody = resultsTable.querySelector("tbody");
    const status = document.getElementById("search-status");
    const pager = document.getElementById("search-pager");
    const search = document.getElementById("station-search");
    const selected = new Map(opts.selected.map((s) => [s.station_number, s]));
    let page = { offset: 0, total: 0, results: [] };

    const isForecast = () => opts.forecast_types.includes(dataType.value);
    const filters = () => {
      const values = {};
      for (const name of ["state", "huc", "agency", "text"]) values[name] = search.querySelector(`[name=s_${name}]`).value.trim();
      return values;
    };
    const flag = (s) => s.noaa_mapped ? "yes" : el("span", { class: "flag-none", title: "no NOAA-HADS id: forecast pulls skip it" }, "none");

    function renderSelected() {
      selectedBody.replaceChildren();
      let unmapped = 0;
      for (const s of selected.values()) {
        if (!s.noaa_mapped) unmapped += 1;
        selectedBody.append(el("tr", { class: isForecast() && !s.noaa_mapped ? "unmapped" : "" },
          el("td", {}, el("code", {}, s.station_number)),
          el("td", { class: "clip-cell", title: s.station_name || "" }, s.station_name || (s.known === false ? "not in the master list" : "…")),
          el("td", {}, s.agency || ""), el("td", {}, s.state || ""), el("td", {}, s.huc || ""),
          el("td", { class: "forecast-only" }, flag(s)),
          el("td", {}, el("button", { type: "button", class: "link", onclick: () => { selected.delete(s.station_number); changed(); } }, "Remove"))));
      }
      const count = selected.size;
      document.getElementById("selected-count").textContent = count;
      document.getElementById("selected-stations").hidden = count === 0;
      document.getElementById("selected-empty").hidden = count > 0;
      document.getElementById("remove-all").hidden = count === 0;
      document.getElementById("unmapped-note").textContent =
        isForecast() && unmapped ? `— ${unmapped} without a NOAA mapping (flagged)` : "";
      textarea.value = Array.from(selected.keys()).join("\n");
      form.classList.toggle("is-forecast", isForecast());
      for (const node of document.querySelectorAll(".forecast-only")) node.hidden = !isForecast();
    }

    function renderResults() {
      resultsBody.replaceChildren();
      for (const s of page.results) {
        const added = selected.has(s.station_number);
        resultsBody.append(el("tr", {},
          el("td", {}, el("button", { type: "button", class: added ? "link small" : "small", disabled: added,
            onclick: () => add([s]) }, added ? "Added" : "Add")),
          el("td", {}, el("code", {}, s.station_number)), el("td", {}, s.agency || ""),
          el("td", { class: "clip-cell", title: s.station_name || "" }, s.station_name || ""),
          el("td", {}, s.state || ""), el("td", {}, s.huc || ""),
          el("td", { class: "num" }, s.drainage_area_sqmi === null ? "—" : s.drainage_area_sqmi.toLocaleString("en-US")),
          el("td", { class: "forecast-only" }, flag(s))));
      }
      resultsTable.hidden = page.results.length === 0;
      pager.hidden = page.total === 0;
      const last = Math.min(page.offset + page.results.length, page.total);
      document.getElementById("page-label").textContent = page.total ? `${page.offset + 1}–${last} of ${page.total.toLocaleString("en-US")}` : "";
      document.getElementById("prev-page").disabled = page.offset === 0;
      document.getElementById("next-page").disabled = last >= page.total;
      const addAll = document.getElementById("add-all");
      addAll.textContent = page.total > opts.bulk_cap ? `Add the first ${opts.bulk_cap} results` : `Add all ${page.total} results`;
      for (const node of document.querySelectorAll(".forecast-only")) node.hidden = !isForecast();
    }

    function add(stations) {
      let skipped = 0;
      for (const s of stations) {
        if (selected.has(s.station_number)) continue;
        if (selected.size >= opts.max_stations) { skipped += 1; continue; }
        selected.set(s.station_number, s);
      }
      changed();
      if (skipped) setStatus(`${skipped} not added: a configuration holds at most ${opts.max_stations} stations.`, true);
    }

    function changed() { renderSelected(); renderResults(); }

    function setStatus(text, error) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(error));
    }

    async function run(offset, limit) {
      const params = new URLSearchParams({ ...filters(), offset, limit, data_type: dataType.value });
      setStatus("Searching…");
      const { ok, data } = await getJSON(`${BASE}/stations/search?${params}`);
      if (!ok) {
        const errors = data && data.errors ? Object.values(data.errors).join("; ") : "the search failed; reload the page";
        setStatus(errors, true);
        return null;
      }
      return data;
    }

    async function searchPage(offset) {
      const data = await run(offset, opts.page_size);
      if (!data) return;
      page = data;
      renderResults();
      if (!data.total) setStatus("No station matches these filters. Try fewer filters or another spelling.");
      else setStatus(`${data.total.toLocaleString("en-US")} station(s) match.` + (data.total > data.limit ? " Use Next ›, or narrow the filters." : ""));
    }

    document.getElementById("search-button").addEventListener("click", () => searchPage(0));
    search.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); searchPage(0); } });
    document.getElementById("prev-page").addEventListener("click", () => searchPage(Math.max(0, page.offset - opts.page_size)));
    document.getElementById("next-page").addEventListener("click", () => searchPage(page.offset + opts.page_size));
    document.getElementById("add-all").addEventListener("click", async () => {
      const data = await run(0, opts.bulk_cap);
      if (!data) return;
      add(data.results);
      setStatus(data.total > data.results.length
        ? `Added the first ${data.results.length} of ${data.total.toLocaleString("en-US")} matches (the cap per click); narrow the filters for the rest.`
        : `Added all ${data.results.length} matches.`);
    });
    document.getElementById("remove-all").addEventListener("click", () => { selected.clear(); changed(); });
    dataType.addEventListener("change", changed);
    textarea.addEventListener("change", () => {
      const numbers = textarea.value.split(/[\s,;]+/).filter(Boolean);
      const previous = new Map(selected);
      selected.clear();
      for (const n of numbers) selected.set(n, previous.get(n) || { station_number: n, noaa_mapped: true, known: undefined });
      changed();
    });
    const scheduleType = document.getElementById("schedule_type");
    const scheduleValue = document.getElementById("schedule_value");
    const syncSchedule = () => { scheduleValue.hidden = scheduleType.value !== "cron" && !scheduleValue.value; };
    scheduleType.addEventListener("change", syncSchedule);
    syncSchedule();
    renderSelected();
  }

  /* ------------------------------------------------------------ re-parse after a save */
  async function reparse() {
    const box = document.getElementById("reparse");
    if (!box) return;
    const dagId = box.dataset.dagId;
    const gone = box.dataset.deleted === "1";
    const api = `${AIRFLOW}/api/v2`;
    const say = (...nodes) => box.replaceChildren(...nodes);
    const link = () => el("a", { class: "af-link", href: `${AIRFLOW}/dags/${encodeURIComponent(dagId)}` }, dagId);
    const elapsed = () => (Date.now() - performance.timeOrigin) / 1000;

    const before = await getJSON(`${api}/dags/${encodeURIComponent(dagId)}/details`);
    let token = before.ok ? before.data.file_token : null;
    const parsedBefore = before.ok ? before.data.last_parsed_time : null;
    if (!token) {  // a new DAG: every configuration's DAG comes from the same file; use a sibling's token
      const list = await getJSON(`${api}/dags?dag_id_pattern=${encodeURIComponent(body.dataset.dagPrefix || "streamflow_config_")}&limit=1`);
      const sibling = list.ok && list.data.dags && list.data.dags[0];
      if (sibling) {
        const details = await getJSON(`${api}/dags/${encodeURIComponent(sibling.dag_id)}/details`);
        token = details.ok ? details.data.file_token : null;
      }
    }
    let asked = false;
    if (token) {
      const response = await fetch(`${api}/parseDagFile/${encodeURIComponent(token)}`, {
        method: "PUT", credentials: "same-origin", headers: { "X-CSRF-Token": CSRF },
      });
      asked = response.status === 201;
      if (!asked) say(`Airflow refused the re-parse request (HTTP ${response.status}); the DAG follows at Airflow's next regular parse of the DAG file.`);
    } else {
      say("No DAG of this file is in Airflow yet, so there is nothing to ask for: the DAG appears at Airflow's next scan of the DAG folder.");
    }
    if (asked) say(`Asked Airflow to re-parse the DAG file (${elapsed().toFixed(1)} s after the save); waiting for `, el("code", {}, dagId), "…");
    const deadline = Date.now() + 5 * 60 * 1000;
    while (Date.now() < deadline) {
      const now = await getJSON(`${api}/dags/${encodeURIComponent(dagId)}`);
      const done = gone
        ? (now.status === 404 || (now.ok && now.data.is_stale))
        : (now.ok && !now.data.is_stale && (!parsedBefore || now.data.last_parsed_time !== parsedBefore));
      if (done) {
        const seconds = elapsed();
        box.dataset.seconds = seconds.toFixed(1);
        box.classList.replace("info", "success");
        if (gone) say(`The DAG ${dagId} is gone from Airflow's DAG list, ${seconds.toFixed(1)} s after the delete.`);
        const cell = document.getElementById("dag-cell");
        if (cell && !gone) cell.replaceChildren(link(), now.data.is_paused ? " " : "", now.data.is_paused ? el("span", { class: "pill off" }, "paused") : "");
        if (!gone) say("The DAG ", link(), ` is up to date in Airflow, ${seconds.toFixed(1)} s after the save` +
          (now.data.is_paused ? " (paused: unpause it in Airflow to let the scheduler run it)." : "."));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    box.classList.replace("info", "warn");
    say("Airflow has not shown the change after 5 minutes: check the DAG processor and Airflow's import errors.");
  }

  /* ------------------------------------------------------------ hydrograph */
  function hydrograph() {
    const form = document.getElementById("hydrograph-form");
    if (!form || typeof uPlot === "undefined") return;
    const target = document.getElementById("hydrograph");
    const status = document.getElementById("hydrograph-status");
    const seconds = (iso) => Date.parse(iso) / 1000;
    const palette = ["#d9480f", "#7048e8", "#2b8a3e", "#c2255c"];
    let chart = null;

    async function draw() {
      const params = new URLSearchParams();
      for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
      status.textContent = "Loading…";
      const { ok, data } = await getJSON(`${form.dataset.url}?${params}`);
      if (chart) { chart.destroy(); chart = null; }
      target.replaceChildren();
      if (!ok) {
        status.textContent = data && data.errors ? Object.values(data.errors).join("; ") : (data && data.detail) || "could not load the series";
        return;
      }
      const times = new Set();
      data.observed.forEach(([t]) => times.add(seconds(t)));
      data.forecasts.forEach((f) => f.points.forEach(([t]) => times.add(seconds(t))));
      const xs = Array.from(times).sort((a, b) => a - b);
      const index = new Map(xs.map((x, i) => [x, i]));
      const column = (points) => { const ys = new Array(xs.length).fill(null); points.forEach(([t, v]) => { ys[index.get(seconds(t))] = v; }); return ys; };
      const range = `${data.start.slice(0, 10)} to ${data.end.slice(0, 10)} UTC`;
      if (!xs.length) {
        status.textContent = `No ${data.type} values stored for ${data.station} from ${range}` +
          (data.last_stored ? `; the latest stored is ${data.last_stored.replace("+00:00", " UTC")}.` : ", and none at all yet.");
        target.append(el("p", { class: "empty small" }, "Nothing to plot."));
        return;
      }
      const cfs = whileHovering((v) => (v === null || v === undefined ? "—" : v.toLocaleString("en-US", { maximumFractionDigits: 1 })));
      const instant = whileHovering((ts) => (ts === null || ts === undefined ? "—"
        : `${new Date(ts * 1e3).toISOString().slice(0, 16).replace("T", " ")} UTC`));
      const series = [{ label: "Time", value: instant },
        { label: `Observed ${data.type} (cfs)`, stroke: "#0b6bcb", width: 1.5, spanGaps: true, value: cfs }];
      const columns = [xs, column(data.observed)];
      data.forecasts.forEach((f, i) => {
        series.push({ label: `${f.source} issued ${f.issued.slice(0, 16).replace("T", " ")} UTC`, stroke: palette[i % palette.length],
          dash: [6, 4], width: 1.5, spanGaps: true, value: cfs });
        columns.push(column(f.points));
      });
      chart = new uPlot({
        width: Math.max(320, target.clientWidth || 900), height: 340,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
        series,
        axes: [{ label: "Time (UTC)" }, { label: "Discharge (ft³/s)", size: 70 }],
        scales: { x: { time: true } },
      }, columns, target);
      status.textContent = `${data.station}: ${data.observed.length.toLocaleString("en-US")} observed ${data.type} value(s), ${range}` +
        (data.truncated ? " (cut at the first values: choose a shorter range)" : "") +
        (data.forecasts.length ? `; ${data.forecasts.length} forecast(s) overlaid.` : "; no forecast stored for this station.");
    }

    form.addEventListener("submit", (event) => { event.preventDefault(); draw(); });
    form.querySelector("[name=station]").addEventListener("change", draw);
    draw();
  }

  // A legend value shown only while the cursor is on the plot (uPlot passes idx null at rest), so
  // a chart at rest lists its series names instead of a row of dashes (see streamflow.css).
  function whileHovering(format) {
    return (u, value, _series, idx) => (idx === null || idx === undefined ? "" : format(value));
  }

  /* ------------------------------------------------------------ forecast skill by lead time */
  // The detail page embeds the scores (#skill-data, cfs); lead-time bins are categories 0, 1, …
  function skillChart() {
    const node = document.getElementById("skill-data");
    const target = document.getElementById("skill-chart");
    if (!node || !target || typeof uPlot === "undefined") return;
    const data = JSON.parse(node.textContent);
    const labels = data.labels || [];
    if (!labels.length) return;
    const xs = labels.map((_, i) => i);
    const present = (v) => v !== null && v !== undefined && Number.isFinite(v);
    const digits = (v) => (Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0);
    const fmt = (v) => present(v)
      ? v.toLocaleString("en-US", { minimumFractionDigits: digits(v), maximumFractionDigits: digits(v) }) : "—";
    const shown = whileHovering(fmt);
    const width = Math.max(320, target.clientWidth || 900);
    const every = Math.max(1, Math.ceil((labels.length * 64) / Math.max(1, width - 100)));  // label spacing
    const top = Math.max(0, ...data.rmse.filter(present), ...data.persistence_rmse.filter(present));
    const chart = new uPlot({
      width, height: 270,
      series: [
        { label: "Lead", value: whileHovering((i) => labels[i] ?? "—") },
        { label: "Forecast RMSE", stroke: "#0b6bcb", width: 2, spanGaps: true,
          points: { show: true, size: 8, fill: "#0b6bcb" }, value: shown },
        { label: "Persistence RMSE", stroke: "#6b7785", width: 2, dash: [6, 4], spanGaps: true,
          points: { show: true, size: 8, fill: "#fff" }, value: shown },
      ],
      scales: {
        x: { time: false, range: () => [-0.5, labels.length - 0.5] },
        y: { range: () => [0, top > 0 ? top * 1.15 : 1] },
      },
      axes: [
        { label: "Lead time (hours after the issue time)", splits: () => xs, grid: { show: false },
          values: (u, splits) => splits.map((i) => (Number.isInteger(i) && i % every === 0 ? labels[i] : "")) },
        { label: `RMSE (${data.unit})`, size: 70, values: (u, splits) => splits.map((v) => v.toLocaleString("en-US")) },
      ],
    }, [xs, data.rmse, data.persistence_rmse], target);
    target.dataset.drawn = String(labels.length);
    return chart;
  }

  document.addEventListener("DOMContentLoaded", () => {
    airflowLinks();
    stationPicker();
    reparse();
    hydrograph();
    skillChart();
  });
  window.Streamflow = { stationPicker, reparse, hydrograph, skillChart };
})();
