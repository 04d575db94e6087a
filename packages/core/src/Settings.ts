/**
 * Reading Warden's settings through Effect `Config`: durations in the short
 * forms operators write (`250ms`, `30s`, `5m`, `1h`, `1d`) as well as
 * Effect's (`30 seconds`), non-empty lists, and groups of optional settings
 * that are left out when unset, so a module's own defaults apply.
 *
 * Every `layerConfig` of Warden takes a `Config.Config.Wrap<Options>` built
 * from these (or any `Config`), so one process can configure two issuers.
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

const short = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const effectForm = /^\d+(?:\.\d+)?\s+(?:nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)$/

const units = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days
} as const

/**
 * The formats `duration` accepts, as its errors state them.
 *
 * @since 0.2.0
 * @category models
 */
export const durationFormats = "a number and a unit: 250ms, 30s, 5m, 1h, 1d, or Effect's 30 seconds, 5 minutes"

/**
 * Reads a duration: a non-negative number and a unit, short (`250ms`, `30s`,
 * `5m`, `1h`, `1d`) or as Effect writes it (`30 seconds`, `1 hour`).
 *
 * @since 0.2.0
 * @category parsing
 * @example
 * ```ts
 * import { Settings } from "@warden/core"
 * import * as Duration from "effect/Duration"
 * import * as Either from "effect/Either"
 *
 * Either.map(Settings.parseDuration("5m"), Duration.toSeconds) // Either.right(300)
 * ```
 */
export const parseDuration = (text: string): Either.Either<Duration.Duration, string> => {
  const trimmed = text.trim()
  const match = short.exec(trimmed)
  if (match !== null) return Either.right(units[match[2] as keyof typeof units](Number(match[1])))
  if (effectForm.test(trimmed)) return Either.right(Duration.decode(trimmed as Duration.DurationInput))
  return Either.left(`expected a duration (${durationFormats}), not '${text}'`)
}

/**
 * A duration setting, in the forms `parseDuration` reads; anything else is a
 * `ConfigError` that names the accepted formats.
 *
 * @since 0.2.0
 * @category constructors
 */
export const duration = (name?: string): Config.Config<Duration.Duration> => {
  const config = Config.mapOrFail(
    Config.string(),
    (text) => Either.mapLeft(parseDuration(text), (message) => ConfigError.InvalidData([], message))
  )
  return name === undefined ? config : Config.nested(config, name)
}

/**
 * A list setting (comma-separated in the environment) that must hold at least one item.
 *
 * @since 0.2.0
 * @category constructors
 */
export const nonEmptyArray = <A>(item: Config.Config<A>, name?: string): Config.Config<readonly [A, ...Array<A>]> =>
  Config.mapOrFail(Config.array(item, name), (items) => {
    const [first, ...rest] = items
    return first === undefined ?
      Either.left(ConfigError.InvalidData([], "expected at least one value")) :
      Either.right([first, ...rest] as const)
  })

/**
 * Settings that may each be unset: the result holds only those that are set,
 * so the defaults of whatever reads them apply to the rest. A setting that is
 * set but malformed still fails.
 *
 * @since 0.2.0
 * @category constructors
 */
export const optional = <const Fields extends Readonly<Record<string, Config.Config<unknown>>>>(
  fields: Fields
): Config.Config<{ readonly [K in keyof Fields]?: Config.Config.Success<Fields[K]> }> =>
  Config.map(
    Config.all(
      Object.fromEntries(Object.entries(fields).map(([key, config]) => [key, Config.option(config)]))
    ),
    (options) =>
      Object.fromEntries(
        Object.entries(options).flatMap(([key, value]) => Option.isSome(value) ? [[key, value.value]] : [])
      ) as { readonly [K in keyof Fields]?: Config.Config.Success<Fields[K]> }
  )
