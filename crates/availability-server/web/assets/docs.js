// The /docs page: Swagger UI (vendored in ./swagger-ui, see its README) drawing this server's
// OpenAPI document. A file of its own because the pages' CSP allows no inline script.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Nothing is sent to swagger.io's validator (and the CSP would refuse it anyway).
    validatorUrl: null,
    // A token given to "Authorize" stays in this page's memory, never in localStorage.
    persistAuthorization: false,
  });
});
