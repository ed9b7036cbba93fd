// The API-key scope every inference route asks for (sessions hold `*`); admin routes need the admin role instead.
export const INFERENCE_SCOPE = 'inference:generate';
