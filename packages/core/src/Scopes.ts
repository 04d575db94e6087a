/**
 * OAuth 2.0 scopes, parsed by the grammar of RFC 6749 §3.3, and the
 * `CurrentScopes` service.
 *
 * ```
 * scope       = scope-token *( SP scope-token )
 * scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
 * ```
 *
 * Matching is exact. Anything outside the grammar (empty tokens from leading,
 * trailing or doubled spaces, tabs, NBSPs, look-alike Unicode characters,
 * quotes, backslashes) is rejected, never normalised.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Literal from "./internal/literal.js"
import type { PermissionSet } from "./Permission.js"

const scopeTokenPattern = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** One scope-token (RFC 6749 §3.3). */
export const ScopeToken = Schema.String.pipe(
  Schema.pattern(scopeTokenPattern, {
    message: () => "a scope-token is one or more printable ASCII characters other than space, '\"' and '\\'"
  }),
  Schema.brand("@warden/ScopeToken")
)

/** @since 0.1.0 */
export type ScopeToken = typeof ScopeToken.Type

/**
 * `S` when it is a scope-token (or not a literal: then it is checked at run
 * time), else a message the compiler shows where the literal is written.
 *
 * @since 0.2.0
 */
export type CheckToken<S extends string> = Literal.IsLiteral<S> extends false ? S :
  Literal.IsScopeToken<S> extends true ? S :
  "Warden: a scope-token is one or more printable ASCII characters other than space, '\"' and '\\' (RFC 6749 §3.3)"

/** A scope string that is not in the RFC 6749 §3.3 grammar. */
export class InvalidScope extends Data.TaggedError("InvalidScope")<{
  /**
   * Where the problem is: from `parse`, the index in the string of the
   * offending character or of the empty token; from `fromTokens`, the index
   * of the offending token.
   */
  readonly position: number
  readonly message: string
}> {}

const TypeId: unique symbol = Symbol.for("@warden/core/Scopes")

/** A set of scope-tokens, in the order they were first given. */
export class Scopes implements Equal.Equal, Iterable<ScopeToken> {
  readonly [TypeId] = TypeId
  readonly #set: ReadonlySet<string>
  #rendered: string | undefined
  private constructor(readonly tokens: ReadonlyArray<ScopeToken>) {
    this.#set = new Set(tokens)
  }
  /** @internal */
  static unsafeFromTokens(tokens: ReadonlyArray<ScopeToken>): Scopes {
    return new Scopes([...new Set(tokens)])
  }
  /** Whether `scope` is one of the tokens, compared exactly. */
  has(scope: string): boolean {
    return this.#set.has(scope)
  }
  get size(): number {
    return this.tokens.length
  }
  [Symbol.iterator](): Iterator<ScopeToken> {
    return this.tokens[Symbol.iterator]()
  }
  [Equal.symbol](that: unknown): boolean {
    return isScopes(that) && that.size === this.size && this.tokens.every((t) => that.has(t))
  }
  [Hash.symbol](): number {
    return Hash.cached(this, Hash.array([...this.tokens].sort()))
  }
  /** The space-delimited string (RFC 6749 §3.3), built once. */
  get rendered(): string {
    return this.#rendered ??= this.tokens.join(" ")
  }
  toString(): string {
    return render(this)
  }
  toJSON(): unknown {
    return this.tokens
  }
}

/** @since 0.1.0 */
export const isScopes = (u: unknown): u is Scopes => typeof u === "object" && u !== null && TypeId in u

/** No scopes at all (an absent `scope` claim). */
export const empty: Scopes = Scopes.unsafeFromTokens([])

const describe = (code: number): string =>
  code === 0x20 ?
    "a space" :
    code === 0x09 ?
    "a tab" :
    code === 0xa0 ?
    "a no-break space" :
    code < 0x20 || code === 0x7f ?
    `control character U+${code.toString(16).padStart(4, "0").toUpperCase()}` :
    code === 0x22 ?
    "'\"'" :
    code === 0x5c ?
    "'\\'" :
    `U+${code.toString(16).padStart(4, "0").toUpperCase()}`

const isTokenChar = (code: number): boolean =>
  code === 0x21 || (code >= 0x23 && code <= 0x5b) || (code >= 0x5d && code <= 0x7e)

/**
 * Parses a scope string. Duplicate tokens are kept once; order is kept.
 * The empty string is not a scope string: an absent claim is `Scopes.empty`.
 */
export const parse = (input: string): Either.Either<Scopes, InvalidScope> => {
  if (input.length === 0) {
    return Either.left(new InvalidScope({ position: 0, message: "the scope string is empty" }))
  }
  const tokens: Array<ScopeToken> = []
  let start = 0
  for (let i = 0; i <= input.length; i++) {
    const code = i < input.length ? input.codePointAt(i)! : 0x20
    if (code === 0x20) {
      if (i === start) {
        return Either.left(
          new InvalidScope({
            position: i,
            message: `empty scope-token at position ${i}: scopes are separated by exactly one space`
          })
        )
      }
      tokens.push(input.slice(start, i) as ScopeToken)
      start = i + 1
    } else if (!isTokenChar(code)) {
      return Either.left(
        new InvalidScope({ position: i, message: `${describe(code)} at position ${i} is not allowed in a scope` })
      )
    }
  }
  return Either.right(Scopes.unsafeFromTokens(tokens))
}

/** Builds scopes from individual tokens, each checked against the grammar. */
export const fromTokens = (tokens: Iterable<string>): Either.Either<Scopes, InvalidScope> => {
  const out: Array<ScopeToken> = []
  let index = 0
  for (const token of tokens) {
    if (token.length === 0) {
      return Either.left(new InvalidScope({ position: index, message: `scope-token ${index} is empty` }))
    }
    for (let i = 0; i < token.length; i++) {
      const code = token.codePointAt(i)!
      if (!isTokenChar(code)) {
        return Either.left(
          new InvalidScope({
            position: index,
            message: `${describe(code)} in scope-token ${index} is not allowed in a scope`
          })
        )
      }
    }
    out.push(token as ScopeToken)
    index++
  }
  return Either.right(Scopes.unsafeFromTokens(out))
}

/** Renders scopes as the space-delimited string of RFC 6749 §3.3. */
export const render = (scopes: Scopes): string => scopes.rendered

/** Scopes as a Schema: decoded from the space-delimited string, encoded back to it. */
export const FromString: Schema.Schema<Scopes, string> = Schema.transformOrFail(
  Schema.String,
  Schema.declare(isScopes, { identifier: "Scopes" }),
  {
    strict: true,
    decode: (input, _, ast) => Either.mapLeft(parse(input), (e) => new ParseResult.Type(ast, input, e.message)),
    encode: (scopes) => ParseResult.succeed(render(scopes))
  }
)

/** Scopes as a Schema: decoded from an array of scope-tokens (as in the `scp` claim). */
export const FromArray: Schema.Schema<Scopes, ReadonlyArray<string>> = Schema.transformOrFail(
  Schema.Array(Schema.String),
  Schema.declare(isScopes, { identifier: "Scopes" }),
  {
    strict: true,
    decode: (input, _, ast) => Either.mapLeft(fromTokens(input), (e) => new ParseResult.Type(ast, input, e.message)),
    encode: (scopes) => ParseResult.succeed(scopes.tokens)
  }
)

/** What a request may do: its scopes, and its permissions compiled for fast checks. */
export interface Grants {
  readonly scopes: Scopes
  readonly permissions: PermissionSet
}

/**
 * The scopes and permissions of the current request. Provided only by
 * `ScopeContext` (in `@warden/rpc`).
 */
export class CurrentScopes extends Context.Tag("@warden/core/CurrentScopes")<CurrentScopes, Grants>() {}
