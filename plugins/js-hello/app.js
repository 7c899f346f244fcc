// `example:js-hello`: a ward plugin written in JavaScript (see `wit/js-hello.wit`).
//
// jco's QuickJS backend builds it into a component whose typed commands are this module's
// exported functions. A top-level `result` is returned as its ok value or thrown as its error.

import log from "ward:plugin/log@0.1.0";

export function greet(name) {
    log.log("info", "greet called");
    return `Hello, ${name}!`;
}

export function count(text) {
    const words = text.split(/\s+/).filter((word) => word.length > 0);
    const longest = words.reduce((best, word) => (word.length > best.length ? word : best), "");
    return { words: words.length, chars: [...text].length, longest };
}

export function divide(a, b) {
    if (b === 0) {
        throw "division by zero";
    }
    const quotient = Math.trunc(a / b);
    if (quotient > 2147483647) {
        throw `${a} / ${b} overflows s32`;
    }
    return quotient;
}

export function crash(message) {
    throw new Error(message);
}
