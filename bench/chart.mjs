// The report's chart: one horizontal bar per measured row (baseline rows left
// out, they are 1x by definition), its ratio against the group's baseline on a
// log scale, a line at 1x, offheap rows and peer rows in two colours, and a
// tick where a target asks the bar to reach. Plain SVG, no dependency.

const ROW = 18;
const LABEL = 330;
const PLOT = 460;
const RIGHT = 70;
const COLORS = { offheap: '#1f77b4', peer: '#9a9a9a', missed: '#d62728' };

const ok = (v) => typeof v === 'number' && Number.isFinite(v);
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Returns the SVG text for a report ({ suites: [{ name, groups }] }). */
export function renderChart(report, title = 'offheap: ratio against each group\'s baseline (log scale, > 1 is better)') {
  const items = [];
  for (const suite of Array.isArray(report?.suites) ? report.suites : []) {
    if (suite?.error) items.push({ kind: 'head', text: `${suite.name}: suite failed (${suite.error})` });
    if (suite?.skipped) items.push({ kind: 'head', text: `${suite.name}: skipped (${suite.skipped})` });
    for (const g of Array.isArray(suite?.groups) ? suite.groups : []) {
      const rows = (Array.isArray(g?.rows) ? g.rows : []).filter((r) => r && r.name !== g.baseline);
      if (rows.length === 0) continue;
      items.push({ kind: 'head', text: `${suite.name}: ${g.title} (vs ${g.baseline}, ${g.unit})` });
      for (const r of rows) items.push({ kind: 'bar', group: g, row: r });
    }
  }
  const ratios = items.filter((i) => i.kind === 'bar' && ok(i.row.ratio) && i.row.ratio > 0).map((i) => i.row.ratio);
  const targets = items.flatMap((i) => (i.kind === 'bar' ? markers(i.group, i.row) : []));
  // The scale covers every ratio and target, in whole decades around 1x.
  const lo = Math.min(0.1, ...ratios, ...targets);
  const hi = Math.max(10, ...ratios, ...targets);
  const dmin = Math.floor(Math.log10(lo));
  const dmax = Math.ceil(Math.log10(hi));
  const x = (r) => LABEL + ((Math.log10(r) - dmin) / (dmax - dmin)) * PLOT;
  const top = 40;
  const height = top + items.length * ROW + 40;
  const width = LABEL + PLOT + RIGHT;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let d = dmin; d <= dmax; d++) {
    const gx = x(10 ** d);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 30}" stroke="${d === 0 ? '#000' : '#ddd'}" stroke-width="${d === 0 ? 1.5 : 1}"/>`);
    out.push(`<text x="${gx}" y="${height - 16}" text-anchor="middle">${d < 0 ? `1/${10 ** -d}` : 10 ** d}x</text>`);
  }
  items.forEach((item, i) => {
    const y = top + i * ROW;
    if (item.kind === 'head') {
      out.push(`<text x="8" y="${y + 13}" font-weight="bold">${esc(item.text)}</text>`);
      return;
    }
    const { row, group } = item;
    out.push(`<text x="${LABEL - 6}" y="${y + 13}" text-anchor="end">${esc(row.name)}</text>`);
    if (!ok(row.median)) {
      out.push(`<text x="${x(1) + 4}" y="${y + 13}" fill="#777">${esc(`not measured: ${row.unavailable ?? 'no figure'}`.slice(0, 90))}</text>`);
      return;
    }
    if (!ok(row.ratio) || row.ratio <= 0) {
      out.push(`<text x="${x(1) + 4}" y="${y + 13}" fill="#777">${esc(`n/a: ${row.ratioNote ?? 'no ratio'}`.slice(0, 90))}</text>`);
      return;
    }
    const r = Math.max(row.ratio, 10 ** dmin);
    const x0 = x(1);
    const x1 = x(Math.min(r, 10 ** dmax));
    const missed = (group.targets ?? []).some((t) => t.candidate === row.name && t.status === 'not met');
    const color = missed ? COLORS.missed : row.peer ? COLORS.peer : COLORS.offheap;
    out.push(`<rect x="${Math.min(x0, x1)}" y="${y + 3}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${ROW - 6}" fill="${color}"><title>${esc(`${row.name}: ${fmt(row.ratio)}x vs ${group.baseline}`)}</title></rect>`);
    for (const m of markers(group, row)) out.push(`<line x1="${x(m)}" y1="${y + 1}" x2="${x(m)}" y2="${y + ROW - 1}" stroke="#000" stroke-dasharray="2,2"/>`);
    out.push(`<text x="${Math.max(x0, x1) + 4}" y="${y + 13}">${fmt(row.ratio)}x</text>`);
  });
  const ly = height - 4;
  out.push(`<rect x="8" y="${ly - 9}" width="10" height="9" fill="${COLORS.offheap}"/><text x="22" y="${ly}">offheap</text>`);
  out.push(`<rect x="78" y="${ly - 9}" width="10" height="9" fill="${COLORS.peer}"/><text x="92" y="${ly}">peer</text>`);
  out.push(`<rect x="130" y="${ly - 9}" width="10" height="9" fill="${COLORS.missed}"/><text x="144" y="${ly}">target not met</text>`);
  out.push(`<line x1="230" y1="${ly - 9}" x2="230" y2="${ly}" stroke="#000" stroke-dasharray="2,2"/><text x="236" y="${ly}">target ratio</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Ratios against the baseline that a target asks this row to reach. */
function markers(group, row) {
  return (group.targets ?? [])
    .filter((t) => t.candidate === row.name && t.vs === group.baseline && ok(t.atLeast) && t.atLeast > 0)
    .map((t) => t.atLeast);
}

function fmt(r) {
  if (!ok(r)) return 'n/a';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

/**
 * The latency chart: for every group with a `latency` field ({ title?, percentiles:
 * [50, 99, ...], rows: [{ name, peer, us: [...] }] }), one panel of latency by
 * percentile, one line per candidate, log scale in microseconds. Values that
 * are missing or not positive leave a gap, never a crash.
 */
export function renderLatencyChart(report, title = 'offheap: latency by percentile (microseconds, log scale, lower is better)') {
  const panels = [];
  for (const suite of Array.isArray(report?.suites) ? report.suites : []) {
    for (const g of Array.isArray(suite?.groups) ? suite.groups : []) {
      const l = g?.latency;
      if (!l || !Array.isArray(l.percentiles) || !Array.isArray(l.rows) || l.percentiles.length === 0) continue;
      panels.push({ title: `${suite.name}: ${l.title ?? g.title}`, percentiles: l.percentiles, rows: l.rows.filter((r) => r && typeof r === 'object') });
    }
  }
  const PW = 520;
  const PH = 220;
  const LEFT = 70;
  const LEGEND = 300;
  const PANEL = PH + 70;
  const width = LEFT + PW + LEGEND;
  const height = 40 + Math.max(1, panels.length) * PANEL;
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  if (panels.length === 0) out.push(`<text x="8" y="44" fill="#777">no latency figures in this report</text>`);
  panels.forEach((p, pi) => {
    const top = 40 + pi * PANEL + 20;
    const values = p.rows.flatMap((r) => (Array.isArray(r?.us) ? r.us : [])).filter((v) => ok(v) && v > 0);
    const dmin = Math.floor(Math.log10(Math.min(10, ...values)));
    const dmax = Math.max(dmin + 1, Math.ceil(Math.log10(Math.max(100, ...values))));
    const y = (v) => top + PH - ((Math.log10(v) - dmin) / (dmax - dmin)) * PH;
    const n = p.percentiles.length;
    const x = (i) => LEFT + (n === 1 ? PW / 2 : (i / (n - 1)) * PW);
    out.push(`<text x="8" y="${top - 6}" font-weight="bold">${esc(p.title)}</text>`);
    for (let d = dmin; d <= dmax; d++) {
      out.push(`<line x1="${LEFT}" y1="${y(10 ** d)}" x2="${LEFT + PW}" y2="${y(10 ** d)}" stroke="#ddd"/>`);
      out.push(`<text x="${LEFT - 6}" y="${y(10 ** d) + 4}" text-anchor="end">${fmtUs(10 ** d)}</text>`);
    }
    p.percentiles.forEach((q, i) => {
      out.push(`<line x1="${x(i)}" y1="${top}" x2="${x(i)}" y2="${top + PH}" stroke="#eee"/>`);
      out.push(`<text x="${x(i)}" y="${top + PH + 16}" text-anchor="middle">${esc(q === 100 ? 'max' : `p${q}`)}</text>`);
    });
    p.rows.forEach((r, ri) => {
      const color = palette[ri % palette.length];
      const us = Array.isArray(r?.us) ? r.us : [];
      // A polyline per run of consecutive measured points.
      let run = [];
      const flush = () => {
        if (run.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="${r.peer ? 1.5 : 2.5}"${r.peer ? ' stroke-dasharray="5,3"' : ''} points="${run.join(' ')}"/>`);
        run = [];
      };
      p.percentiles.forEach((_, i) => {
        const v = us[i];
        if (!ok(v) || v <= 0) return flush();
        run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
        out.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${color}"><title>${esc(`${r.name}: ${p.percentiles[i] === 100 ? 'max' : `p${p.percentiles[i]}`} ${fmtUs(v)}`)}</title></circle>`);
      });
      flush();
      const ly = top + 10 + ri * 16;
      out.push(`<line x1="${LEFT + PW + 14}" y1="${ly - 4}" x2="${LEFT + PW + 34}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${r.peer ? ' stroke-dasharray="5,3"' : ''}/>`);
      const measured = us.some((v) => ok(v) && v > 0);
      out.push(`<text x="${LEFT + PW + 40}" y="${ly}"${measured ? '' : ' fill="#777"'}>${esc(`${r?.name ?? 'unnamed'}${measured ? '' : ' (not measured)'}`)}</text>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function fmtUs(v) {
  if (!ok(v)) return 'n/a';
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(3))} s`;
  if (v >= 1e3) return `${Number((v / 1e3).toPrecision(3))} ms`;
  return `${Number(v.toPrecision(3))} µs`;
}
