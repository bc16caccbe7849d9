import { badInput } from '../errors.js';

/**
 * A mutation's one `input:` object, or — for clients written before it took one — the same
 * values as the deprecated separate arguments; BAD_USER_INPUT for both at once, or for
 * neither (`required` names the field that must be there).
 */
export function oneInput<T extends object>(
  input: T | null | undefined,
  separate: { [K in keyof T]?: T[K] | null },
  required: keyof T & string,
): T {
  const given = Object.values(separate).some((value) => value !== undefined && value !== null);
  if (input && given) throw badInput('Send either input or the deprecated separate arguments, not both');
  if (input) return input;
  if (separate[required] === undefined || separate[required] === null) throw badInput(`input.${required} is required`);
  return separate as T;
}
