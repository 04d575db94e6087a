/**
 * Compile-time checks of string literals against Warden's grammars, so that a
 * malformed literal scope, permission or tenant is a compile error rather than
 * a throw when the module loads. A `string` that is not a literal passes here
 * and is checked when the call runs.
 */

type Digit = "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9"
type Lower =
  | "a"
  | "b"
  | "c"
  | "d"
  | "e"
  | "f"
  | "g"
  | "h"
  | "i"
  | "j"
  | "k"
  | "l"
  | "m"
  | "n"
  | "o"
  | "p"
  | "q"
  | "r"
  | "s"
  | "t"
  | "u"
  | "v"
  | "w"
  | "x"
  | "y"
  | "z"
type Alphanumeric = Digit | Lower | Uppercase<Lower>

/** `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3). */
export type ScopeChar =
  | Alphanumeric
  | "!"
  | "#"
  | "$"
  | "%"
  | "&"
  | "'"
  | "("
  | ")"
  | "*"
  | "+"
  | ","
  | "-"
  | "."
  | "/"
  | ":"
  | ";"
  | "<"
  | "="
  | ">"
  | "?"
  | "@"
  | "["
  | "]"
  | "^"
  | "_"
  | "`"
  | "{"
  | "|"
  | "}"
  | "~"

/** The characters of a permission segment. */
export type SegmentChar = Alphanumeric | "_" | "." | "-"

/** The characters of a tenant id after its first. */
export type TenantChar = Alphanumeric | "_" | "." | "-"

/** Whether every character of `S` is in `C` (tail-recursive: literals up to about a thousand characters). */
export type Only<S extends string, C extends string> = S extends `${infer H}${infer T}` ?
  H extends C ? Only<T, C> : false :
  true

/** Whether `S` is a literal type rather than `string` (or a template with `string` holes). */
export type IsLiteral<S extends string> = string extends S ? false : true

type Segments<S extends string, N extends ReadonlyArray<0>> = S extends `${infer Segment}:${infer Rest}` ?
  Segment extends "" ? false : Only<Segment, SegmentChar> extends true ? Segments<Rest, [...N, 0]> : false :
  S extends "" ? false :
  Only<S, SegmentChar> extends true ? N["length"] extends 8 ? false : true :
  false

/** Whether `S` is a permission: 1 to 8 `:`-separated non-empty segments. */
export type IsPermission<S extends string> = Segments<S, []>

/** Whether `S` is a scope-token. */
export type IsScopeToken<S extends string> = S extends "" ? false : Only<S, ScopeChar>

/** Whether `S` is a tenant id (its length is checked at run time). */
export type IsTenantId<S extends string> = S extends `${infer H}${infer T}` ?
  H extends Alphanumeric ? Only<T, TenantChar> : false :
  false
