/**
 * Tenants: the id type, and the `CurrentTenant` service that only Warden's
 * `TenantContext` middleware provides.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import type * as Literal from "./internal/literal.js"

/**
 * A tenant id as it appears in a signed claim: 1 to 128 characters of
 * letters, digits, `.`, `_` and `-`, starting with a letter or digit.
 * Compared exactly: `Acme` and `acme` are different tenants.
 */
const pattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export const TenantId = Schema.String.pipe(
  Schema.pattern(pattern, {
    message: () => "a tenant id is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.brand("@warden/TenantId")
)

/** @since 0.1.0 */
export type TenantId = typeof TenantId.Type

/**
 * `S` when it is a tenant id (or not a literal: then it is checked at run
 * time), else a message the compiler shows where the literal is written.
 *
 * @since 0.2.0
 */
export type Check<S extends string> = Literal.IsLiteral<S> extends false ? S :
  Literal.IsTenantId<S> extends true ? S :
  "Warden: a tenant id is letters, digits, '.', '_' or '-', starting with a letter or digit"

/**
 * What is wrong with a would-be tenant id, as the end of a sentence ("is
 * empty"), or `undefined` when it is one. For error texts that name the
 * problem without echoing the value.
 *
 * @since 0.2.0
 */
export const problem = (value: string): string | undefined => {
  if (value.length === 0) return "is empty"
  if (value.length > 128) return "is longer than 128 characters"
  if (!pattern.test(value)) return "must be letters, digits, '.', '_' or '-', starting with a letter or digit"
  return undefined
}

/** Decodes an unknown value into a `TenantId`, as `Option`. */
export const decodeOption = Schema.decodeUnknownOption(TenantId)

/**
 * The tenant of the current request, taken from the verified credentials.
 * Provided only by `TenantContext` (in `@warden/rpc`); a handler that needs it
 * does not compile unless its procedure is protected.
 */
export class CurrentTenant extends Context.Tag("@warden/core/CurrentTenant")<CurrentTenant, TenantId>() {}
