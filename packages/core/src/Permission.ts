/**
 * Permissions of the form `module:resource:action`, a typed catalogue of them,
 * and grants with segment-wise wildcards compiled for fast checks.
 *
 * - A segment is one or more of `A-Z a-z 0-9 _ . -`.
 * - A grant may end in the wildcard segment `*`: `tenant:*` covers every
 *   permission below `tenant:` (`tenant:user`, `tenant:user:list`), `*` covers
 *   every permission. A wildcard covers at least one segment, so `tenant:*`
 *   does not cover `tenant`.
 * - `*` is a wildcard only as a whole, last segment: `orders*` or `a:*:b` are
 *   not valid grants and grant nothing.
 * - `tenant:user` covers `tenant:user` only, never `tenant:username:list`
 *   nor `tenant:user:list`.
 * - A deny that covers a permission wins over every grant.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as Literal from "./internal/literal.js"

const segmentPattern = /^[A-Za-z0-9_.-]+$/

/** A permission: `module:resource:action`, one to eight segments. */
export const Permission = Schema.String.pipe(
  Schema.filter((s) => parseSegments(s, false) !== undefined, {
    message: () => "a permission is 1 to 8 ':'-separated segments of letters, digits, '_', '.' or '-'"
  })
)

/** The wildcard forms that cover a permission: `a:b:c` gives `a:b:*` and `a:*`. */
export type Wildcards<P extends string> = P extends `${infer Head}:${infer Tail}` ?
  `${Head}:*` | `${Head}:${Wildcards<Tail>}` :
  never

/** What may be granted or denied for a catalogue of permissions `P`. */
export type Grant<P extends string> = P | Wildcards<P> | "*"

/** A malformed permission or grant. */
export class InvalidPermission extends Data.TaggedError("InvalidPermission")<{
  readonly input: string
  readonly message: string
}> {}

const maxSegments = 8

/** Splits a permission (or a grant when `wildcard`) into segments, or `undefined` if malformed. */
const parseSegments = (input: string, wildcard: boolean): ReadonlyArray<string> | undefined => {
  if (input.length === 0 || input.length > 256) return undefined
  const segments = input.split(":")
  if (segments.length > maxSegments) return undefined
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    if (segment === "*" && wildcard && i === segments.length - 1) continue
    if (!segmentPattern.test(segment)) return undefined
  }
  return segments
}

/** Checks a permission string. */
export const validate = (input: string): Either.Either<string, InvalidPermission> =>
  parseSegments(input, false) === undefined ?
    Either.left(
      new InvalidPermission({
        input,
        message:
          `"${input}" is not a permission: use 1 to ${maxSegments} ':'-separated segments of letters, digits, '_', '.' or '-'`
      })
    ) :
    Either.right(input)

/** Checks a grant: a permission, or a permission prefix followed by the wildcard segment `*`. */
export const validateGrant = (input: string): Either.Either<string, InvalidPermission> =>
  parseSegments(input, true) === undefined ?
    Either.left(
      new InvalidPermission({
        input,
        message: `"${input}" is not a grant: use a permission, or a prefix of one followed by ':*', or '*'`
      })
    ) :
    Either.right(input)

/**
 * `P` when it is a permission (or not a literal: then it is checked at run
 * time), else a message the compiler shows where the literal is written.
 *
 * @since 0.2.0
 */
export type CheckPermission<P extends string> = Literal.IsLiteral<P> extends false ? P :
  Literal.IsPermission<P> extends true ? P :
  "Warden: a permission is 1 to 8 ':'-separated segments of letters, digits, '_', '.' or '-'"

/** The declared permissions of an application. `P` is their union type. */
export interface Catalogue<P extends string> {
  readonly permissions: ReadonlyArray<P>
  /** Whether a string is one of the catalogue's permissions. */
  readonly has: (permission: string) => permission is P
  /** Builds grants checked against the catalogue at compile time. */
  readonly grants: (
    grants: { readonly allow?: ReadonlyArray<Grant<P>>; readonly deny?: ReadonlyArray<Grant<P>> }
  ) => Grants
}

/**
 * Declares the permissions of an application. Requiring a permission outside
 * the catalogue (see `Policy.permission`) is a compile error, and so is a
 * malformed literal permission; one that is not a literal throws here with
 * the same message.
 */
export const catalogue = <const Ps extends ReadonlyArray<string>>(
  ...permissions: Ps & { readonly [K in keyof Ps]: CheckPermission<Ps[K]> }
): Catalogue<Ps[number]> => {
  const declared: Ps = permissions
  for (const p of declared) {
    const checked = validate(p)
    if (Either.isLeft(checked)) throw new globalThis.Error(checked.left.message)
  }
  const set = new Set<string>(declared)
  return {
    permissions: declared,
    has: (permission: string): permission is Ps[number] => set.has(permission),
    grants: (grants) => ({ allow: grants.allow ?? [], deny: grants.deny ?? [] })
  }
}

/** A principal's grants and denies, as they come from a token or a role table. */
export interface Grants {
  readonly allow: ReadonlyArray<string>
  readonly deny: ReadonlyArray<string>
}

/** Grants as a Schema (the shape Warden carries in a `Principal`). */
export const GrantsSchema = Schema.Struct({
  allow: Schema.Array(Schema.String),
  deny: Schema.Array(Schema.String)
})

/** No grants. */
export const none: Grants = { allow: [], deny: [] }

/** The answer to a permission check. */
export type Check =
  | { readonly _tag: "Allowed"; readonly grant: string }
  | { readonly _tag: "Denied"; readonly rule: string }
  | { readonly _tag: "NotGranted" }

const notGranted: Check = { _tag: "NotGranted" }

interface Node {
  readonly children: Map<string, Node>
  /** The exact grant ending here. */
  allow: string | undefined
  deny: string | undefined
  /** The wildcard grant `<prefix>:*` whose prefix ends here. */
  allowBelow: string | undefined
  denyBelow: string | undefined
}

const node = (): Node => ({
  children: new Map(),
  allow: undefined,
  deny: undefined,
  allowBelow: undefined,
  denyBelow: undefined
})

/**
 * A principal's grants compiled into a trie of segments. A check walks one
 * node per segment of the permission: its cost depends on the permission,
 * not on the number of grants. An allowed check names the most specific
 * grant that covers the permission; a malformed permission is never granted.
 */
export interface PermissionSet {
  readonly check: (permission: string) => Check
  /** Grants and denies that were malformed: such a grant grants nothing, such a deny denies everything. */
  readonly ignored: ReadonlyArray<string>
  /**
   * The grants and denies it was compiled from, to show (the auth RPC's `GetUserPermissions`).
   *
   * @since 0.3.0
   */
  readonly rules: Grants
}

const insert = (root: Node, grant: string, deny: boolean): boolean => {
  const segments = parseSegments(grant, true)
  if (segments === undefined) return false
  let current = root
  const last = segments.length - 1
  for (let i = 0; i < last; i++) {
    const segment = segments[i]!
    let next = current.children.get(segment)
    if (next === undefined) {
      next = node()
      current.children.set(segment, next)
    }
    current = next
  }
  const tail = segments[last]!
  if (tail === "*") {
    if (deny) current.denyBelow ??= grant
    else current.allowBelow ??= grant
    return true
  }
  let leaf = current.children.get(tail)
  if (leaf === undefined) {
    leaf = node()
    current.children.set(tail, leaf)
  }
  if (deny) leaf.deny ??= grant
  else leaf.allow ??= grant
  return true
}

/**
 * Compiles grants once (per request) for checks in time linear in a
 * permission's segments. A malformed allow grants nothing; a malformed deny
 * denies everything, since what it was meant to refuse cannot be known (an
 * authenticator refuses such a credential before it gets here).
 */
export const compile = (grants: Grants): PermissionSet => {
  const root = node()
  const ignored: Array<string> = []
  for (const grant of grants.allow) if (!insert(root, grant, false)) ignored.push(grant)
  let malformedDeny: string | undefined
  for (const grant of grants.deny) {
    if (!insert(root, grant, true)) {
      ignored.push(grant)
      malformedDeny ??= grant
    }
  }
  if (malformedDeny !== undefined) {
    const denied: Check = { _tag: "Denied", rule: malformedDeny }
    return { check: () => denied, ignored, rules: grants }
  }
  // A set lives as long as its token in the verifier's cache and answers the same few permissions again and
  // again: answers are kept, a bounded number of them.
  const answers = new Map<string, Check>()
  const check = (permission: string): Check => {
    const known = answers.get(permission)
    if (known !== undefined) return known
    const answer = walk(permission)
    if (answers.size < 64) answers.set(permission, answer)
    return answer
  }
  const walk = (permission: string): Check => {
    if (permission.length === 0) return notGranted
    let current: Node | undefined = root
    let allowed: string | undefined
    let start = 0
    while (current !== undefined) {
      if (current.denyBelow !== undefined) return { _tag: "Denied", rule: current.denyBelow }
      allowed = current.allowBelow ?? allowed
      const end = permission.indexOf(":", start)
      const segment = end === -1 ? permission.slice(start) : permission.slice(start, end)
      if (!segmentPattern.test(segment)) return notGranted
      current = current.children.get(segment)
      if (end === -1) {
        if (current === undefined) break
        if (current.deny !== undefined) return { _tag: "Denied", rule: current.deny }
        allowed = current.allow ?? allowed
        break
      }
      start = end + 1
    }
    // The walk stops where the trie ends, so it may not have read the whole permission: a wildcard must not
    // grant what is not a permission (a bad segment further on, a ninth segment, more than 256 characters).
    if (allowed === undefined || parseSegments(permission, false) === undefined) return notGranted
    return { _tag: "Allowed", grant: allowed }
  }
  return { check, ignored, rules: grants }
}

/** The empty permission set. */
export const emptySet: PermissionSet = compile(none)
