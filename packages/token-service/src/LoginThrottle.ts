/**
 * Failed logins per username, so repeated guessing is slowed down: after a
 * number of failures every login of that username is refused for a window
 * that doubles with each further failure. Kept in the process by default;
 * shared by several token-service instances on Redis (`@warden/redis`), so a
 * guesser gains nothing by spreading attempts over them.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * How the windows grow: none before `threshold` failures, then `backoffMs`,
 * doubled with each further failure, at most `maxBackoffMs`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Rule {
  readonly threshold: number
  readonly backoffMs: number
  readonly maxBackoffMs: number
}

/**
 * A username's failures since its last success, and until when (epoch ms) its logins are refused.
 *
 * @since 0.3.0
 * @category models
 */
export interface Failures {
  readonly count: number
  readonly until: number
}

/**
 * The window after the `count`th failure.
 *
 * @since 0.3.0
 */
export const windowOf = (rule: Rule, count: number): number =>
  count < rule.threshold ? 0 : Math.min(rule.maxBackoffMs, rule.backoffMs * 2 ** (count - rule.threshold))

/**
 * The store could not answer: the login is refused (`temporarily_unavailable`), never let through unthrottled.
 *
 * @since 0.3.0
 * @category errors
 */
export class LoginThrottleUnavailable extends Data.TaggedError("@warden/LoginThrottleUnavailable")<{
  readonly message: string
}> {}

/**
 * Failures by username. A record is forgotten `maxBackoffMs` after its window ends, so counts decay.
 *
 * @since 0.3.0
 * @category models
 */
export class LoginThrottle extends Context.Tag("@warden/token-service/LoginThrottle")<LoginThrottle, {
  readonly failures: (username: string, now: number) => Effect.Effect<Failures | undefined, LoginThrottleUnavailable>
  /** Counts one more failure, atomically, and returns the record with its new window. */
  readonly recordFailure: (
    username: string,
    now: number,
    rule: Rule
  ) => Effect.Effect<Failures, LoginThrottleUnavailable>
  /** A success: the count starts again. */
  readonly clear: (username: string) => Effect.Effect<void, LoginThrottleUnavailable>
}>() {}

/**
 * Failures in this process: at most `maxEntries` usernames (the oldest go first).
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeMemory = (maxEntries = 100_000): LoginThrottle["Type"] => {
  const records = new Map<string, { readonly failures: Failures; readonly forgetAt: number }>()
  const current = (username: string, now: number) => {
    const record = records.get(username)
    if (record !== undefined && record.forgetAt <= now) {
      records.delete(username)
      return undefined
    }
    return record?.failures
  }
  return {
    failures: (username, now) => Effect.sync(() => current(username, now)),
    recordFailure: (username, now, rule) =>
      Effect.sync(() => {
        const count = (current(username, now)?.count ?? 0) + 1
        const failures = { count, until: now + windowOf(rule, count) }
        records.delete(username)
        records.set(username, { failures, forgetAt: failures.until + rule.maxBackoffMs })
        if (records.size > maxEntries) records.delete(records.keys().next().value!)
        return failures
      }),
    clear: (username) => Effect.sync(() => void records.delete(username))
  }
}

/**
 * Failures in this process.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory: Layer.Layer<LoginThrottle> = Layer.sync(LoginThrottle, () => makeMemory())
