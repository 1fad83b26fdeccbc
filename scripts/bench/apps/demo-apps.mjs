/**
 * The demo's two apps as modules a config can name (`dragon-on-wheels demo` builds them in code,
 * which a config file cannot): the same createDemoApp from dist/, under the demo's app names.
 */
import { createDemoApp } from '../../../dist/server/host/demo-app.js';

export const port9002 = createDemoApp('Server_on_port_9002');
export const port9003 = createDemoApp('Server_on_port_9003');
