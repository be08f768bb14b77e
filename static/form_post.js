// Submits the response_mode=form_post form; served as a file so the page's
// Content-Security-Policy can forbid inline script.
document.getElementById("form-post").submit();
