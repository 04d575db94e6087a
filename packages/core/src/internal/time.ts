/** Decision times, formatted for the audit log without a `Date` per decision. */

let lastMillis = Number.NaN
let lastIso = ""
let lastSecond = Number.NaN
let secondPrefix = ""

/**
 * ISO-8601 (`toISOString`) for a time in whole epoch milliseconds from 1970
 * to 9999. The date and time to the second are formatted once per second;
 * decisions made in the same millisecond share one string.
 */
export const isoTime = (millis: number): string => {
  if (millis === lastMillis) return lastIso
  const second = Math.floor(millis / 1000)
  if (second !== lastSecond) {
    lastSecond = second
    // "YYYY-MM-DDTHH:MM:SS." of this second.
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20)
  }
  const ms = millis - second * 1000
  lastMillis = millis
  lastIso = `${secondPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`
  return lastIso
}
