// Swagger UI for each <div class="swagger" data-url="..."> of the page: read-only (there is
// no server behind the documentation site), no validator badge (it would call a web service).
for (const element of document.querySelectorAll("div.swagger[data-url]")) {
  SwaggerUIBundle({
    url: element.dataset.url,
    domNode: element,
    deepLinking: false,
    validatorUrl: null,
    supportedSubmitMethods: [],
    defaultModelsExpandDepth: 0,
  });
}
