/**
 * What a contract route takes and answers, read off its zod schemas. ts-rest infers the same, but
 * its types would then be part of this package's declarations, and ts-rest's own declarations
 * fail to compile against zod 4 without skipLibCheck; these name nothing but zod.
 */
import type { z } from 'zod';
import type { ErrorBody } from '@energy-pipeline/contract';
import type { RouteCallOptions } from './transport.js';

/** A route as the contract declares it; only the parts the types below read. */
export interface Route {
  method: string;
  path: string;
  responses: Record<number, unknown>;
}

/** A contract: routes, or nested contracts. */
export interface Router {
  [key: string]: Route | Router;
}

type SuccessStatus = 200 | 201 | 202 | 203 | 204 | 205 | 206 | 207 | 208 | 226;

/** `:name` segments of a literal path; nothing when the path is only known as a string. */
type PathParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | PathParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

/** No property: what a route without params, query or body adds to the arguments. */
type None = Record<never, never>;

/** A property that may be left out when every field of its value is optional. */
type Field<K extends string, T> = None extends T ? { [P in K]?: T } : { [P in K]: T };

type ParamsArg<R> = R extends { pathParams: infer S extends z.ZodType }
  ? Field<'params', z.input<S>>
  : R extends { path: infer P extends string }
    ? [PathParamNames<P>] extends [never]
      ? None
      : { params: { [K in PathParamNames<P>]: string } }
    : None;
type QueryArg<R> = R extends { query: infer S extends z.ZodType } ? Field<'query', z.input<S>> : None;
/** Routes without a body (GET, or a POST declared with `c.noBody()`) take none. */
type BodyArg<R> = R extends { body: infer S extends z.ZodType } ? { body: z.input<S> } : None;

/** The route's params, query and body as the contract types them, plus a signal, a retry hook and extra headers. */
export type RouteArgs<R extends Route> = ParamsArg<R> &
  QueryArg<R> &
  BodyArg<R> & {
    /** Headers for this call only, beside the client's. */
    extraHeaders?: Record<string, string>;
  } & RouteCallOptions;

/** The body of one documented answer: what its schema parses to (nothing for a schema-less one). */
type ResponseBody<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * What a call resolves to: the body of any 2xx, and of other documented answers that are not
 * error bodies (a health route's 503 describes the service). Error bodies are thrown instead.
 */
export type RouteAnswer<R extends Route> = {
  [S in keyof R['responses']]: S extends SuccessStatus
    ? ResponseBody<R['responses'][S]>
    : ResponseBody<R['responses'][S]> extends ErrorBody
      ? never
      : ResponseBody<R['responses'][S]>;
}[keyof R['responses']];

/** Whether a call may omit its argument: true when every property of the arguments is optional. */
type AllOptional<T> = Partial<T> extends T ? true : false;

export type RouteCall<R extends Route> =
  AllOptional<RouteArgs<R>> extends true
    ? (args?: RouteArgs<R>) => Promise<RouteAnswer<R>>
    : (args: RouteArgs<R>) => Promise<RouteAnswer<R>>;

/** One method per contract route (nested routers become nested objects). */
export type ContractClient<T extends Router> = {
  [K in keyof T]: T[K] extends Route ? RouteCall<T[K]> : T[K] extends Router ? ContractClient<T[K]> : never;
};
