/**
 * Which roles a subject holds in a tenant. The application writes it (an
 * admin screen, a provisioning job); a `GrantSource` built with
 * `GrantSource.fromRoles` reads it. An in-memory layer here; `@warden/redis`
 * implements the same interface for every instance to share.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * The store could not answer or write. Reading grants then refuses the
 * request (`unavailable`): an unavailable store never allows.
 *
 * @since 0.3.0
 * @category errors
 */
export class RoleStoreUnavailable extends Data.TaggedError("@warden/RoleStoreUnavailable")<{
  readonly message: string
}> {}

/**
 * Role assignments per (subject, tenant).
 *
 * @since 0.3.0
 * @category models
 */
export class RoleStore extends Context.Tag("@warden/core/RoleStore")<RoleStore, {
  /** The role names `subject` holds in `tenant`; none when it holds none. */
  readonly rolesOf: (subject: string, tenant: string) => Effect.Effect<ReadonlyArray<string>, RoleStoreUnavailable>
  /** Replaces the roles `subject` holds in `tenant` (none removes them all). */
  readonly assign: (
    subject: string,
    tenant: string,
    roles: ReadonlyArray<string>
  ) => Effect.Effect<void, RoleStoreUnavailable>
}>() {}

/**
 * One assignment, as a layer seeds it.
 *
 * @since 0.3.0
 * @category models
 */
export interface Assignment {
  readonly subject: string
  readonly tenant: string
  readonly roles: ReadonlyArray<string>
}

/** The key of a (subject, tenant) pair; a tenant id holds no newline, so no two pairs share one. */
export const keyOf = (subject: string, tenant: string): string => `${tenant}\n${subject}`

/**
 * Role assignments in this process's memory, seeded with `assignments`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory = (assignments: Iterable<Assignment> = []): Layer.Layer<RoleStore> =>
  Layer.sync(RoleStore, () => {
    const table = new Map<string, ReadonlyArray<string>>()
    for (const a of assignments) table.set(keyOf(a.subject, a.tenant), [...a.roles])
    return {
      rolesOf: (subject, tenant) => Effect.sync(() => table.get(keyOf(subject, tenant)) ?? []),
      assign: (subject, tenant, roles) =>
        Effect.sync(() => {
          if (roles.length === 0) table.delete(keyOf(subject, tenant))
          else table.set(keyOf(subject, tenant), [...roles])
        })
    }
  })
