// An adaptive app's mode on its card: who sets the limit now and why (the controller's last
// decision), and "Resume adaptive" once an operator's limit fixed it. Hidden for other apps.

import { putThreadsMode } from './api.js';

export function setupThreadsMode(root, name, id, { onChanged, announce }) {
  const box = root.querySelector('.threads-mode');
  const text = box.querySelector('.threads-mode-text');
  const resume = box.querySelector('.threads-resume');
  const message = box.querySelector('.threads-mode-message');
  message.id = `${id}-threads-mode-message`;
  resume.setAttribute('aria-describedby', message.id);
  resume.addEventListener('click', async () => {
    resume.disabled = true;
    message.textContent = 'Resuming…';
    message.dataset.kind = 'pending';
    try {
      const r = await putThreadsMode(name, 'adaptive');
      message.textContent = `Adaptive again from ${r.threads}`;
      message.dataset.kind = 'ok';
      announce(`${name}: thread limit adaptive again`, 'ok');
      onChanged(name);
    } catch (err) {
      message.textContent = `Not resumed: ${err.message}`;
      message.dataset.kind = 'error';
      announce(`${name}: adaptive not resumed: ${err.message}`, 'error');
    } finally {
      resume.disabled = false;
    }
  });
  return {
    update(next) {
      box.hidden = next.threadsMode === undefined;
      if (box.hidden) return;
      const adaptive = next.threadsMode === 'adaptive';
      text.textContent = adaptive ? `adaptive: ${next.threadsReason ?? ''}` : `fixed${next.threadsReason ? ` (${next.threadsReason})` : ''}`;
      text.title = text.textContent;
      resume.hidden = adaptive;
    },
  };
}
