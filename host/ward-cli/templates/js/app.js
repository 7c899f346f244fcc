// {{plugin}}: a ward plugin written in JavaScript.
//
// componentize-qjs (the QuickJS backend of jco) builds this module into a component (`npm run
// build`). Each exported function is a command declared in `wit/{{name}}.wit`; a top-level
// `result` is returned as its ok value or thrown as its error.

import log from "ward:plugin/log@0.1.0";

// Turns any exception that leaves `fn` into the command's error result (a string), so that a bug
// reaches the caller as an error instead of trapping the call.
function command(fn) {
    return (...args) => {
        try {
            return fn(...args);
        } catch (error) {
            if (typeof error === "string") {
                throw error;
            }
            log.log("error", `${fn.name} failed: ${error?.name ?? typeof error}`);
            throw `${error?.name ?? "Error"}: ${error?.message ?? String(error)}`;
        }
    };
}

export const greet = command(function greet(name) {
    if (name === "") {
        throw new RangeError("name is empty");
    }
    log.log("info", "greet called");
    return `Hello, ${name}!`;
});
