/**
 * @module route-bound
 * At most ROUTES_PER_APP routes per app in the store: a route seen first once an app has that
 * many becomes the overflow route. The known routes are read from the store once per app and
 * added to it as they come, so the bound holds across restarts and across every worker's rows.
 */
import { OVERFLOW_ROUTE, ROUTES_PER_APP } from '../../shared/store/schema.js';

interface RouteRegistry {
  /** The (method, route) pairs the store has for `app`. */
  load(app: string): Array<{ method: string; route: string }>;
  /** Records a new pair for `app`. */
  save(app: string, method: string, route: string): void;
}

export class RouteBound {
  private readonly known = new Map<string, Set<string>>();

  constructor(
    private readonly registry: RouteRegistry,
    private readonly max = ROUTES_PER_APP,
  ) {}

  /** The (method, route) a row is stored under: its own, or the overflow route. */
  place(app: string, method: string, route: string): { method: string; route: string } {
    let routes = this.known.get(app);
    if (routes === undefined) {
      routes = new Set(this.registry.load(app).map((r) => keyOf(r.method, r.route)));
      this.known.set(app, routes);
    }
    const key = keyOf(method, route);
    if (routes.has(key)) return { method, route };
    if (routes.size >= this.max) return OVERFLOW_ROUTE;
    routes.add(key);
    this.registry.save(app, method, route);
    return { method, route };
  }
}

function keyOf(method: string, route: string): string {
  return `${method} ${route}`;
}
