/**
 * The people who log in with a password: their subject, tenants, the most
 * their tokens may carry, and their password's hash (never the password).
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Password from "./Password.js"

/**
 * A user as the store keeps it.
 *
 * @since 0.3.0
 * @category models
 */
export interface User {
  readonly username: string
  readonly subject: string
  /** The home tenant (`tid`); `tenants` lists every tenant the user's tokens sign, this one first. */
  readonly tenant: string
  readonly tenants: ReadonlyArray<string>
  /** Every scope the user's tokens may carry, space-separated. */
  readonly scope: string
  /** `Password.hash`'s string. */
  readonly passwordHash: string
}

/**
 * The store could not answer: the login is refused (`temporarily_unavailable`).
 *
 * @since 0.3.0
 * @category errors
 */
export class UserStoreUnavailable extends Data.TaggedError("@warden/UserStoreUnavailable")<{
  readonly message: string
}> {}

/**
 * Users by username.
 *
 * @since 0.3.0
 * @category models
 */
export class UserStore extends Context.Tag("@warden/token-service/UserStore")<UserStore, {
  readonly find: (username: string) => Effect.Effect<User | undefined, UserStoreUnavailable>
}>() {}

/**
 * A user to seed a memory store with, password in the clear (hashed when the layer is built).
 *
 * @since 0.3.0
 * @category models
 */
export interface Seed extends Omit<User, "passwordHash" | "tenants"> {
  readonly password: Redacted.Redacted<string>
  readonly tenants?: ReadonlyArray<string>
}

/**
 * Users in memory, their passwords hashed as the layer is built.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory = (seeds: ReadonlyArray<Seed>, cost?: Password.Cost): Layer.Layer<UserStore> =>
  Layer.effect(
    UserStore,
    Effect.gen(function*() {
      const users = new Map<string, User>()
      for (const seed of seeds) {
        const { password, ...rest } = seed
        users.set(seed.username, {
          ...rest,
          tenants: [...new Set([seed.tenant, ...(seed.tenants ?? [])])],
          passwordHash: yield* Password.hash(password, cost)
        })
      }
      return { find: (username) => Effect.sync(() => users.get(username)) }
    })
  )
