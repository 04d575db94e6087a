/**
 * Helpers for Warden's metrics, shared by every package that counts
 * something.
 *
 * @since 0.2.0
 */
import * as Metric from "effect/Metric"

/**
 * A counter tagged by one key, with each tagged instance made once: building
 * `Metric.tagged(counter, key, value)` on every call costs more than the
 * increment itself. The number of distinct values should be small and
 * closed (reasons, outcomes), never request data.
 */
export const taggedBy = (counter: Metric.Metric.Counter<number>, key: string) => {
  const tagged = new Map<string, Metric.Metric.Counter<number>>()
  return (value: string): Metric.Metric.Counter<number> => {
    const known = tagged.get(value)
    if (known !== undefined) return known
    const metric = Metric.tagged(counter, key, value)
    tagged.set(value, metric)
    return metric
  }
}
