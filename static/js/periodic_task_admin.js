// The periodic task admin form (django-celery-beat): the chosen crontab in words under its field, as the
// package's own template does with an inline script (refused by the CSP; see
// templates/admin/djcelery/change_periodictask_form.html). Text only, never HTML.
(function () {
  var data = document.getElementById("readable-crontabs");
  var select = document.getElementById("id_crontab");
  var help = document.querySelector(".field-crontab .help");
  if (!data || !select || !help) { return; }
  var readable = JSON.parse(data.textContent);
  var original = help.textContent.trim();
  var translation = document.querySelector(".field-crontab_translation");
  if (translation) { translation.hidden = true; }
  function show() {
    help.textContent = original;
    var words = readable[select.value];
    if (words) {
      help.appendChild(document.createElement("br"));
      help.appendChild(document.createTextNode("Translation: " + words));
    }
  }
  select.addEventListener("change", show);
  show();
})();
