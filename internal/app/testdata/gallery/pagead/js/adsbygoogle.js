// A stand-in for an ad network's script, served on the test's own host: it
// adds a sticky banner at the bottom of the page, as ad scripts do.
(() => {
  const ad = document.createElement("div");
  ad.id = "sticky-ad";
  ad.style.cssText = "position:fixed;left:0;right:0;bottom:0;height:120px;background:#cc0000;z-index:1000";
  (document.body || document.documentElement).appendChild(ad);
})();
