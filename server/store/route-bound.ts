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
  /** Per app: its routes by method, and how many it has. Nested, so a row's lookup builds no key string. */
  private readonly known = new Map<string, { byMethod: Map<string, Set<string>>; size: number }>();

  constructor(
    private readonly registry: RouteRegistry,
    private readonly max = ROUTES_PER_APP,
  ) {}

  /** The route a row is stored under: its own, or the overflow route's. */
  place(app: string, method: string, route: string): string {
    let routes = this.known.get(app);
    if (routes === undefined) {
      routes = { byMethod: new Map(), size: 0 };
      for (const r of this.registry.load(app)) add(routes, r.method, r.route);
      this.known.set(app, routes);
    }
    if (routes.byMethod.get(method)?.has(route) === true) return route;
    if (routes.size >= this.max) return OVERFLOW_ROUTE.route;
    add(routes, method, route);
    this.registry.save(app, method, route);
    return route;
  }
}

function add(routes: { byMethod: Map<string, Set<string>>; size: number }, method: string, route: string): void {
  let set = routes.byMethod.get(method);
  if (set === undefined) {
    set = new Set();
    routes.byMethod.set(method, set);
  }
  if (!set.has(route)) {
    set.add(route);
    routes.size++;
  }
}
