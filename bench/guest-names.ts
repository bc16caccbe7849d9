import { sql, type SQL } from 'drizzle-orm';

// Guests' names as the data sets write them, and the parts of them a host types to search.

const FIRST = `Mia Emma Sofia Hannah Lena Lea Anna Marie Emilia Clara Noah Leon Paul Elias Finn Felix Jonas Luca
  Ben Henry Olivia Amelia Isla Ava Jack Oliver Harry George Lucas Hugo Chloe Ines Mateo Zoe Aylin Yusuf Mila Nora Ida Theo`.split(/\s+/);
const STEM = `Berg Schwarz Lind Ross Hoff Wald Stein Brand Kling Hart Sonnen Adler Eich Falk Grün Blum Rosen Feld Stark Lichten
  Morgen Weiß Vogel Wolf Fuchs Baum Engel Kessel Sommer Winter`.split(/\s+/);
const ENDING = ['mann', 'er', 'berg', 'feld', 'hausen', 'bach', 'stein', 'thal', 'ke', 'inger'];

/**
 * The name of row `n` (an SQL expression, e.g. `g`): a first name and a surname of a stem
 * and an ending, each chosen by a different multiplier of n, so they combine into many names.
 */
export function guestName(n: string): SQL {
  const pick = (words: string[], of: string) => sql`(string_to_array(${words.join(' ')}, ' '))[1 + (${sql.raw(of)}) % ${words.length}]`;
  return sql`${pick(FIRST, `${n} * 7`)} || ' ' || ${pick(STEM, `${n} * 13 / 7`)} || ${pick(ENDING, `${n} * 31 / 11`)}`;
}

/** 3 to 5 consecutive letters of `word`, as a host types them. */
export function searchFragment(word: string): string {
  const length = Math.min(word.length, 3 + Math.floor(Math.random() * 3));
  const start = Math.floor(Math.random() * (word.length - length + 1));
  return word.slice(start, start + length);
}
