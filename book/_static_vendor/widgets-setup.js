// Loaded on pages with embedded Jupyter widgets, after RequireJS and just
// before the widget manager (see nb_ipywidgets_js in _config.yml).
(function () {
  // The widget manager's icon fonts sit next to it. Tell both of its bundles
  // where it lives; otherwise they look for the fonts relative to the page.
  var managerDir = new URL("vendor/html-manager/", document.currentScript.src).href;
  window.__jupyter_widgets_assets_path__ = managerDir;
  window.require.config({
    paths: { "@jupyter-widgets/html-manager/dist": managerDir.replace(/\/$/, "") },
  });

  // The widgets typeset their labels through the MathJax 2 call
  // MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads
  // MathJax 3, so route that call to MathJax 3's typesetPromise.
  window.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") return;
    mj.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (Array.isArray(job) && job[0] === "Typeset") {
            var nodes = job[2] ? [job[2]] : undefined;
            mj.startup.promise = mj.startup.promise.then(function () {
              return mj.typesetPromise(nodes);
            });
          }
        });
      },
    };
  });
})();
