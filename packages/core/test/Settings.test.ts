import { describe, expect, it } from "@effect/vitest"
import { Settings } from "@warden/core"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"

const read = <A>(config: Config.Config<A>, entries: ReadonlyArray<readonly [string, string]>) =>
  Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(entries))))

describe("Settings.duration", () => {
  it.effect("reads the short forms and Effect's own", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, number]> = [
        ["250ms", 250],
        ["30s", 30_000],
        ["5m", 300_000],
        ["1h", 3_600_000],
        ["1d", 86_400_000],
        ["1.5s", 1_500],
        ["0s", 0],
        [" 30s ", 30_000],
        ["30 seconds", 30_000],
        ["5 minutes", 300_000],
        ["1 hour", 3_600_000],
        ["250 millis", 250],
        ["2 weeks", 1_209_600_000]
      ]
      for (const [text, millis] of cases) {
        const read = yield* Effect.withConfigProvider(
          Settings.duration("D"),
          ConfigProvider.fromMap(new Map([["D", text]]))
        )
        expect([text, Duration.toMillis(read)]).toEqual([text, millis])
      }
    }))

  it.effect("refuses anything else with a ConfigError that names the accepted formats", () =>
    Effect.gen(function*() {
      for (const text of ["", "30", "soon", "-5s", "5 m", "5M", "30 secs", "1e3ms", "s", "5m30s", "Infinity"]) {
        const result = yield* read(Settings.duration("WARDEN_JWT_CLOCK_SKEW"), [["WARDEN_JWT_CLOCK_SKEW", text]])
        expect(Either.isLeft(result), text).toBe(true)
        if (Either.isRight(result)) continue
        const message = String(result.left)
        expect(message).toContain("WARDEN_JWT_CLOCK_SKEW")
        expect(message).toContain(Settings.durationFormats)
      }
    }))
})

describe("Settings.nonEmptyArray", () => {
  it.effect("reads a comma-separated list, and refuses an empty one", () =>
    Effect.gen(function*() {
      const list = Settings.nonEmptyArray(Config.nonEmptyString(), "L")
      expect(yield* read(list, [["L", "a,b"]])).toEqual(Either.right(["a", "b"]))
      expect(Either.isLeft(yield* read(list, [["L", ""]]))).toBe(true)
      expect(Either.isLeft(yield* read(list, [["L", "a,,b"]]))).toBe(true)
      expect(Either.isLeft(yield* read(list, []))).toBe(true)
      const anything = yield* read(Settings.nonEmptyArray(Config.string(), "L"), [["L", "x"]])
      expect(anything).toEqual(Either.right(["x"]))
    }))
})

describe("Settings.optional", () => {
  it.effect("keeps the settings that are set, leaves out the others, and fails on a malformed one", () =>
    Effect.gen(function*() {
      const config = Settings.optional({ size: Config.integer("SIZE"), skew: Settings.duration("SKEW") })
      const some = yield* read(config, [["SIZE", "3"]])
      expect(some).toEqual(Either.right({ size: 3 }))
      expect(Either.isRight(some) && "skew" in some.right).toBe(false)
      expect(yield* read(config, [])).toEqual(Either.right({}))
      expect(Either.isLeft(yield* read(config, [["SIZE", "3"], ["SKEW", "later"]]))).toBe(true)
    }))
})
