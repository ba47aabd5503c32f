/**
 * Refuses keys an options object does not know: a typo such as `sesion`
 * would otherwise be ignored without a word and leave the default in place.
 * `option` names the object in the message ('' for the top level).
 */
export function rejectUnknownKeys (value: object | undefined, known: readonly string[], option = ''): void {
  if (value === undefined) return
  const unknown = Object.keys(value).filter((key) => !known.includes(key))
  if (unknown.length === 0) return
  const names = unknown.map((key) => option === '' ? key : `${option}.${key}`).join(', ')
  const where = option === '' ? 'the plugin' : option
  throw new TypeError(`unknown option ${names}: ${where} takes ${known.join(', ')}`)
}
