// The report's chart: one horizontal bar per measured row (baseline rows left
// out, they are 1x by definition), its ratio against the group's baseline on a
// log scale, a line at 1x, offheap rows and peer rows in two colours, and a
// tick where a target asks the bar to reach. Plain SVG, no dependency.

const ROW = 18;
const LABEL = 330;
const PLOT = 460;
const RIGHT = 70;
const COLORS = { offheap: '#1f77b4', peer: '#9a9a9a', missed: '#d62728' };

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Returns the SVG text for a report ({ suites: [{ name, groups }] }). */
export function renderChart(report, title = 'offheap: ratio against each group\'s baseline (log scale, > 1 is better)') {
  const items = [];
  for (const suite of report.suites) {
    for (const g of suite.groups ?? []) {
      const rows = g.rows.filter((r) => r.name !== g.baseline);
      if (rows.length === 0) continue;
      items.push({ kind: 'head', text: `${suite.name}: ${g.title} (vs ${g.baseline}, ${g.unit})` });
      for (const r of rows) items.push({ kind: 'bar', group: g, row: r });
    }
  }
  const ratios = items.filter((i) => i.kind === 'bar' && i.row.ratio > 0 && Number.isFinite(i.row.ratio)).map((i) => i.row.ratio);
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
    if (row.median === null) {
      out.push(`<text x="${x(1) + 4}" y="${y + 13}" fill="#777">not available in this build</text>`);
      return;
    }
    const r = Math.max(row.ratio, 10 ** dmin);
    const x0 = x(1);
    const x1 = x(Math.min(r, 10 ** dmax));
    const missed = (group.targets ?? []).some((t) => t.candidate === row.name && t.status === 'MISSED');
    const color = missed ? COLORS.missed : row.peer ? COLORS.peer : COLORS.offheap;
    out.push(`<rect x="${Math.min(x0, x1)}" y="${y + 3}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${ROW - 6}" fill="${color}"><title>${esc(`${row.name}: ${row.ratio.toFixed(2)}x vs ${group.baseline}`)}</title></rect>`);
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
    .filter((t) => t.candidate === row.name && t.vs === group.baseline && t.atLeast !== undefined)
    .map((t) => t.atLeast);
}

function fmt(r) {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}
