/**
 * Which methods a path answers: a request whose path is served but not with its method gets 405
 * Method Not Allowed with an `Allow` header (RFC 9110, 15.5.6), not a 404 that would say the
 * resource is not there.
 */

/** A Fastify route path as a pattern: `:name` is one segment, `*` the rest of the path. */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

export class RouteMethods {
  private readonly routes: Array<{ pattern: RegExp; methods: readonly string[] }> = [];
  /** Routes without parameters, by path: `/v1/users/search` beside `/v1/users/:id`. */
  private readonly literals = new Map<string, Set<string>>();
  /** Methods of catch-all routes (CORS preflight's `OPTIONS *`): they serve no path of their own. */
  private readonly everywhere = new Set<string>();

  add(method: string | readonly string[], url: string): void {
    const methods = (typeof method === 'string' ? [method] : method).map((m) => m.toUpperCase());
    if (url === '*' || url === '/*') for (const m of methods) this.everywhere.add(m);
    else this.routes.push({ pattern: patternOf(url), methods });
    if (!/[:*]/.test(url)) {
      const known = this.literals.get(url) ?? new Set<string>();
      for (const m of methods) known.add(m);
      this.literals.set(url, known);
    }
  }

  /**
   * The methods a route named exactly by this path answers, sorted; empty when none. A request
   * whose parameters a route with a parameter refused (GET /v1/users/search read as a user id) is
   * a method that path does not allow.
   */
  literal(path: string): string[] {
    const methods = this.literals.get(path);
    if (!methods) return [];
    return [...new Set([...methods, ...this.everywhere])].sort();
  }

  /** The methods some route answers on this path (no query string), sorted; empty when none. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) {
      if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    }
    if (methods.size === 0) return [];
    for (const m of this.everywhere) methods.add(m);
    return [...methods].sort();
  }
}
