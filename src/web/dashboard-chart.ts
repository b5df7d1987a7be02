/**
 * Inline SVG charts of daily spending. No script and no style attributes (the CSP allows neither):
 * presentation attributes only, every label through `html`.
 */
import { html, type SafeHtml } from "./html";
import { formatInt } from "./dashboard-layout";

export interface DayPoint {
  /** YYYY-MM-DD (UTC). */
  day: string;
  spentMsat: number;
}

const ACCENT = "#f7931a";
const GRID = "#e4e5ea";
const MUTED = "#6b6f7b";

const sats = (msat: number) => Math.ceil(msat / 1000);

/** A round number at or above v, so the axis reads 0 / 250 / 500 rather than 0 / 233 / 467. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A bar chart of one agent's daily spending (sats), with axes, gridlines and a tooltip per bar. */
export function spendingChart(series: DayPoint[], label: string): SafeHtml {
  const width = 760;
  const height = 220;
  const left = 56;
  const right = 12;
  const top = 14;
  const bottom = 30;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = series.map((p) => sats(p.spentMsat));
  const total = values.reduce((a, b) => a + b, 0);
  const max = niceMax(Math.max(0, ...values));
  const slot = plotW / Math.max(1, series.length);
  const barW = Math.max(2, slot * 0.68);
  const y = (v: number) => top + plotH - (v / max) * plotH;

  const grid = [0, 0.5, 1].map((f) => {
    const v = Math.round(max * f);
    const gy = y(v).toFixed(1);
    return html`<line x1="${left}" x2="${width - right}" y1="${gy}" y2="${gy}" stroke="${GRID}" stroke-width="1" />
      <text x="${left - 8}" y="${gy}" dy="4" text-anchor="end" font-size="11" fill="${MUTED}">${formatInt(v)}</text>`;
  });
  const bars = series.map((p, i) => {
    const v = values[i]!;
    const x = (left + i * slot + (slot - barW) / 2).toFixed(1);
    const h = Math.max(v > 0 ? 2 : 0, (v / max) * plotH);
    return html`<rect
      x="${x}"
      y="${(top + plotH - h).toFixed(1)}"
      width="${barW.toFixed(1)}"
      height="${h.toFixed(1)}"
      rx="2"
      fill="${ACCENT}"
      ><title>${p.day}: ${formatInt(v)} sats</title></rect
    >`;
  });
  const ticks = series
    .map((p, i) => ({ p, i }))
    .filter(({ i }) => i === 0 || i === series.length - 1 || i % 7 === 0)
    .filter(({ i }) => i === series.length - 1 || series.length - 1 - i >= 4)
    .map(({ p, i }) => {
      const x = (left + i * slot + slot / 2).toFixed(1);
      return html`<text x="${x}" y="${height - 10}" text-anchor="middle" font-size="11" fill="${MUTED}"
        >${p.day.slice(5)}</text
      >`;
    });
  const empty =
    total === 0
      ? html`<text x="${left + plotW / 2}" y="${top + plotH / 2}" text-anchor="middle" font-size="13" fill="${MUTED}"
          >No payments in this period</text
        >`
      : "";
  return html`<svg
    class="chart"
    viewBox="0 0 ${width} ${height}"
    role="img"
    aria-label="${label}"
    xmlns="http://www.w3.org/2000/svg"
  >
    <title>${label}</title>
    ${grid}${bars}${ticks}${empty}
    <line
      x1="${left}"
      x2="${width - right}"
      y1="${top + plotH}"
      y2="${top + plotH}"
      stroke="#c9ccd4"
      stroke-width="1"
    />
  </svg>`;
}

/** A small bar sparkline for a table row. */
export function sparkline(series: DayPoint[], label: string): SafeHtml {
  const width = 120;
  const height = 28;
  const values = series.map((p) => sats(p.spentMsat));
  const max = Math.max(1, ...values);
  const slot = width / Math.max(1, series.length);
  const bars = values.map((v, i) => {
    const h = v > 0 ? Math.max(1.5, (v / max) * (height - 2)) : 0;
    return html`<rect
      x="${(i * slot + slot * 0.15).toFixed(1)}"
      y="${(height - h).toFixed(1)}"
      width="${(slot * 0.7).toFixed(1)}"
      height="${h.toFixed(1)}"
      fill="${ACCENT}"
    />`;
  });
  return html`<svg
    class="spark"
    width="${width}"
    height="${height}"
    viewBox="0 0 ${width} ${height}"
    role="img"
    aria-label="${label}"
    xmlns="http://www.w3.org/2000/svg"
  >
    <title>${label}</title>
    <line x1="0" x2="${width}" y1="${height - 0.5}" y2="${height - 0.5}" stroke="${GRID}" />
    ${bars}
  </svg>`;
}
