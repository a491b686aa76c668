// creditpool's own script (issue 19): the little htmx does not do, with no inline
// script (the pages' Content-Security-Policy allows none). Every page works without it.

// An upload's progress: a form marked data-upload posts its file through htmx
// (hx-post, multipart), and its <progress data-upload-progress> follows the bytes sent.
document.addEventListener('htmx:xhr:progress', (event) => {
  const form = event.target.closest('form[data-upload]');
  const bar = form && form.querySelector('progress[data-upload-progress]');
  if (!bar || !event.detail.lengthComputable) return;
  bar.hidden = false;
  bar.max = event.detail.total;
  bar.value = event.detail.loaded;
});

// A refused upload answers its page with the fault on the field (4xx): show it, as
// the browser would without htmx.
document.addEventListener('htmx:beforeSwap', (event) => {
  const from = event.detail.requestConfig && event.detail.requestConfig.elt;
  const status = event.detail.xhr.status;
  if (from && from.closest('form[data-upload]') && status >= 400 && status < 500) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
