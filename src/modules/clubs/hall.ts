import type { AvailabilitySnapshot } from './availability.js';
import type { TableState } from './table-states.js';

/** Pixels per floor-plan grid unit. */
const UNIT = 32;
const MARGIN = 16;
const LEGEND_HEIGHT = 40;

export const stateColours: Record<TableState, { fill: string; label: string }> = {
  FREE: { fill: '#2e9e5b', label: 'Free' },
  HELD: { fill: '#e0a100', label: 'Held' },
  BOOKED: { fill: '#c0392b', label: 'Booked' },
  SEATED: { fill: '#2f6fbf', label: 'Seated' },
};

/**
 * The club's floor plan as SVG: every table at its plan position, labelled and coloured
 * by its state in the snapshot, with a legend. Pure: the same snapshot gives the same bytes.
 */
export function renderHall(clubName: string, snapshot: AvailabilitySnapshot): string {
  const right = Math.max(10, ...snapshot.tables.map(({ table }) => table.x + table.width));
  const bottom = Math.max(4, ...snapshot.tables.map(({ table }) => table.y + table.height));
  const width = right * UNIT + 2 * MARGIN;
  const planHeight = bottom * UNIT + 2 * MARGIN;
  const height = planHeight + LEGEND_HEIGHT;
  const tables = snapshot.tables.map(({ table, state }) => {
    const x = MARGIN + table.x * UNIT;
    const y = MARGIN + table.y * UNIT;
    const w = table.width * UNIT;
    const h = table.height * UNIT;
    const label = escapeMarkup(table.label);
    return (
      `<g class="table" data-table-id="${table.id}" data-label="${label}" data-state="${state}">` +
      `<title>${label}: ${stateColours[state].label.toLowerCase()}, seats ${table.capacity}</title>` +
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="6" fill="${stateColours[state].fill}"/>` +
      `<text x="${x + w / 2}" y="${y + h / 2}" text-anchor="middle" dominant-baseline="central">${label}</text></g>`
    );
  });
  const legend = (Object.keys(stateColours) as TableState[]).map((state, i) => {
    const x = MARGIN + i * 110;
    const y = planHeight + 12;
    return (
      `<g class="legend" data-state="${state}"><rect x="${x}" y="${y}" width="16" height="16" rx="3" fill="${stateColours[state].fill}"/>` +
      `<text x="${x + 22}" y="${y + 8}" dominant-baseline="central">${stateColours[state].label}</text></g>`
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `data-night-id="${snapshot.nightId}" data-version="${snapshot.version}" font-family="system-ui, sans-serif" font-size="13">` +
    `<title>${escapeMarkup(clubName)}: tables (version ${snapshot.version})</title>` +
    `<rect width="${width}" height="${height}" fill="#15161a"/>` +
    `<g fill="#fff">${tables.join('')}</g>` +
    `<g fill="#ddd">${legend.join('')}</g></svg>`
  );
}

/** Text made safe for XML and HTML: markup characters become character references. */
export function escapeMarkup(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
