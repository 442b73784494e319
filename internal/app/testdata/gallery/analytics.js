// A stand-in for an analytics script, served on the test's own host: it
// sends a page view beacon in the Measurement Protocol's shape.
(() => {
  const img = new Image();
  img.src = "/collect?v=1&tid=UA-00000-1&t=pageview&dl=" + encodeURIComponent(location.href);
})();
