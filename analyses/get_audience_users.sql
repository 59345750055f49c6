-- The user list of an audience for activation (ad platforms, CRM): only users whose consent
-- allows ads use, identifiers hashed with SHA-256 and a salt, each with a quality score.
-- Parameters (analyses/_analyses.yml): audience_id, min_quality_score; the salt is bound by
-- truffle from the environment (TRUFFLE_ACTIVATION_SALT), never typed on a command line.

with

members as (
    select * from {{ ref('int_audience_members_evaluated') }}
),

users as (
    select * from {{ ref('user_attributes') }}
),

-- pitfall 8: a user whose ads consent is denied or unknown is never activated
consented as (
    select
        members.audience_id,
        users.*
    from members
    inner join users
        on
            members.property_id = users.property_id
            and members.unified_user_id = users.unified_user_id
    where
        members.audience_id = {{ truffle_param('audience_id') }}
        and users.ads_consent_status = 'granted'
),

-- quality score 0-100: 40 x engaged sessions (capped at 5), 30 if they purchased, 20 if seen
-- in the last 30 days, 10 if logged in (a known person, not only a device)
scored as (
    select
        *,
        round(
            40 * least(lifetime_engaged_sessions, 5) / 5.0
            + case when lifetime_purchases > 0 then 30 else 0 end
            + case when days_since_last_seen <= 30 then 20 else 0 end
            + case when is_logged_in_user then 10 else 0 end,
            1
        ) as quality_score
    from consented
),

final as (
    select
        property_id,
        audience_id,
        {{ truffle_sha256_hex("concat(" ~ truffle_param('salt') ~ ", unified_user_id)") }} as hashed_user_key,
        is_logged_in_user,
        quality_score,
        lifecycle_stage,
        value_segment,
        country,
        device_category,
        last_seen_date
    from scored
    where quality_score >= {{ truffle_param('min_quality_score') }}
)

select * from final
order by quality_score desc, hashed_user_key asc
