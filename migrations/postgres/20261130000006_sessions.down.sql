DROP TABLE sign_in_failures;
--bun:split
DROP TABLE password_links;
--bun:split
DROP TABLE sessions;
--bun:split
DROP TABLE user_passwords;
