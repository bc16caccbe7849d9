import { Column, getTableName, is, SQL } from 'drizzle-orm';
import { PgTimestamp } from 'drizzle-orm/pg-core';
import { parseTimestamptz } from './timestamptz.js';

/** A selected field as Drizzle lists it for a prepared query. */
interface SelectedField {
  path: string[];
  field: unknown;
}

interface Decoder {
  mapFromDriverValue(value: unknown): unknown;
}

/** What Drizzle's prepared queries carry that matters here (set by `.prepare()`). */
interface PreparedShape {
  fields?: SelectedField[];
  joinsNotNullableMap?: Record<string, boolean>;
  customResultMapper?: (rows: unknown[][]) => unknown;
}

function decoderOf(field: unknown): Decoder {
  if (is(field, Column)) return field as unknown as Decoder;
  if (is(field, SQL)) return (field as unknown as { decoder: Decoder }).decoder;
  // SQL.Aliased and subqueries keep theirs on their SQL.
  const inner = field as { sql?: { decoder: Decoder }; _?: { sql: { decoder: Decoder } } };
  return inner.sql?.decoder ?? inner._!.sql.decoder;
}

/** Columns that keep the base class's decoder (text, uuid, …) take the driver's value as it is. */
const identity = (decoder: Decoder) => decoder.mapFromDriverValue === Column.prototype.mapFromDriverValue;

/** How a column's driver value becomes its field's: as Drizzle decodes it, timestamps with a time zone read faster. */
function decodeWith(decoder: Decoder): ((value: unknown) => unknown) | null {
  if (identity(decoder)) return null;
  if (is(decoder, PgTimestamp) && decoder.withTimezone) {
    const timestamp = decoder as Decoder;
    return (value) => (typeof value === 'string' ? (parseTimestamptz(value) ?? timestamp.mapFromDriverValue(value)) : timestamp.mapFromDriverValue(value));
  }
  return (value) => decoder.mapFromDriverValue(value);
}

/**
 * The row mapper of a prepared select, worked out once from its fields instead of for
 * every row: Drizzle's own (`mapResultRow`) asks, for every column of every row, what kind
 * of field it is and which table it belongs to, and calls a decoder even when it changes
 * nothing. The result is the same: nested objects by path, decoded values, and a
 * left-joined table whose columns are all null is null.
 */
export function compileRowMapper(fields: SelectedField[], joinsNotNullableMap: Record<string, boolean> | undefined) {
  const plan = fields.map(({ path, field }) => {
    const decoder = decoderOf(field);
    return {
      path,
      leaf: path[path.length - 1]!,
      decode: decodeWith(decoder),
      // The nested object this column belongs to when it may be nulled (a joined table).
      table: joinsNotNullableMap && is(field, Column) && path.length === 2 ? getTableName((field as Column).table) : null,
    };
  });
  const nullable = joinsNotNullableMap
    ? [...new Set(plan.filter((p) => p.table !== null).map((p) => p.path[0]!))].map((object) => {
        const columns = plan.filter((p) => p.table !== null && p.path[0] === object);
        const tables = new Set(columns.map((c) => c.table));
        // As Drizzle does: only an object whose columns all come from one table that a join may leave empty.
        const table = tables.size === 1 ? columns[0]!.table! : null;
        return { object, indexes: columns.map((c) => plan.indexOf(c)), nullable: table !== null && !joinsNotNullableMap[table] };
      }).filter((o) => o.nullable)
    : [];
  const mapRow = (row: unknown[]): Record<string, unknown> => {
    const result: Record<string, unknown> = {};
    for (let i = 0; i < plan.length; i += 1) {
      const { path, leaf, decode } = plan[i]!;
      let node = result;
      for (let k = 0; k < path.length - 1; k += 1) node = (node[path[k]!] ??= {}) as Record<string, unknown>;
      const raw = row[i];
      node[leaf] = raw === null || raw === undefined ? null : decode ? decode(raw) : raw;
    }
    for (const { object, indexes } of nullable) {
      if (indexes.every((i) => row[i] === null)) result[object] = null;
    }
    return result;
  };
  return (rows: unknown[][]) => rows.map(mapRow);
}

/** Gives a prepared select the compiled mapper (see `compileRowMapper`); anything else is left as it is. */
export function withCompiledMapper<T>(prepared: T): T {
  const shape = prepared as PreparedShape;
  if (shape && typeof shape === 'object' && Array.isArray(shape.fields) && !shape.customResultMapper) {
    shape.customResultMapper = compileRowMapper(shape.fields, shape.joinsNotNullableMap);
  }
  return prepared;
}
