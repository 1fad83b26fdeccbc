/** The hello world as a fetch handler: what WHATWG Request/Response objects cost. */
export default {
  fetch() {
    return new Response('Hello, world!\n', { headers: { 'content-type': 'text/plain' } });
  },
};
