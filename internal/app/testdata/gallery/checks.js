// Paints one block per check: green when it holds, red when it does not.
// Each check is [label, function returning a boolean or a promise of one].
window.runChecks = async function (checks) {
  for (const [label, check] of checks) {
    let ok = false;
    try { ok = await check(); } catch (e) { ok = false; }
    const d = document.createElement("div");
    d.className = "check";
    d.dataset.label = label;
    d.style.cssText = "height:100px;margin:0;background:" + (ok ? "#00cc00" : "#cc0000");
    document.body.append(d);
  }
  document.body.dataset.done = "1";
};
